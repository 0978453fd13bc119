package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// outboxMail is a mail as GET /usher/v1/outbox shows it.
type outboxMail struct {
	ID          string `json:"id"`
	MessageID   string `json:"message_id"`
	To          string `json:"to"`
	Status      string `json:"status"`
	Attempts    int    `json:"attempts"`
	LastReply   string `json:"last_reply"`
	NextAttempt string `json:"next_attempt"`
}

// outbox returns every mail of the outbox in status ("" for all), reading
// every page.
func (s *testServer) outbox(t testing.TB, tok, status string) []outboxMail {
	t.Helper()
	var all []outboxMail
	for page := 0; ; page++ {
		var out struct {
			Total int          `json:"total"`
			Mails []outboxMail `json:"mails"`
		}
		path := fmt.Sprintf("/usher/v1/outbox?per_page=100&page=%d&status=%s", page, url.QueryEscape(status))
		if st := s.call(t, "GET", path, tok, nil, &out); st != http.StatusOK {
			t.Fatalf("GET %s: %d", path, st)
		}
		all = append(all, out.Mails...)
		if len(out.Mails) == 0 || len(all) >= out.Total {
			return all
		}
	}
}

// outboxTotal is how many mails of the outbox are in status.
func (s *testServer) outboxTotal(t testing.TB, tok, status string) int {
	t.Helper()
	var out struct {
		Total int `json:"total"`
	}
	if st := s.call(t, "GET", "/usher/v1/outbox?per_page=1&status="+status, tok, nil, &out); st != http.StatusOK {
		t.Fatalf("outbox: %d", st)
	}
	return out.Total
}

// waitFor polls cond every 20 ms until it holds, failing after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countIDs counts mails by Message-ID.
func countIDs(msgs []mailtest.Message) map[string]int {
	n := map[string]int{}
	for _, m := range msgs {
		n[m.MessageID]++
	}
	return n
}

// wantEachOnce checks that every mail of the outbox reached the sink exactly
// once, and that nothing else did.
func wantEachOnce(t testing.TB, outbox []outboxMail, msgs []mailtest.Message) {
	t.Helper()
	got := countIDs(msgs)
	for _, m := range outbox {
		if got[m.MessageID] != 1 {
			t.Errorf("%s (Message-ID %s, to %s) arrived %d times; want once", m.ID, m.MessageID, m.To, got[m.MessageID])
		}
	}
	if len(msgs) != len(outbox) || len(got) != len(outbox) {
		t.Errorf("the sink has %d mails with %d distinct Message-IDs; want %d, one each", len(msgs), len(got), len(outbox))
	}
}

// createUsers creates n users of the database connection, invited (no
// password); verify queues a verify_email mail for each. It returns their
// emails, sorted.
func createUsers(t testing.TB, s *testServer, tok, prefix string, n int, verify bool) []string {
	t.Helper()
	emails, err := createUsersErr(s, tok, prefix, n, verify)
	if err != nil {
		t.Fatal(err)
	}
	return emails
}

// createUsersErr is createUsers for any goroutine: it reports instead of failing the test.
func createUsersErr(s *testServer, tok, prefix string, n int, verify bool) ([]string, error) {
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("%s%04d@example.com", prefix, i)
	}
	var failures []string
	var mu sync.Mutex
	benchParallel(n, func(i int, c *http.Client) {
		body := fmt.Sprintf(`{"connection":%q,"email":%q,"email_verified":false,"verify_email":%t,"app_metadata":{"needsInvitation":true}}`,
			dbConn, emails[i], verify)
		if st, out := benchPost(c, s.URL+"/api/v2/users", tok, body); st != http.StatusCreated {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s: %d %s", emails[i], st, out))
			mu.Unlock()
		}
	}, shared(s.HTTP))
	if len(failures) > 0 {
		return nil, fmt.Errorf("%d of %d users not created: %v", len(failures), n, failures[:min(3, len(failures))])
	}
	return emails, nil
}

func (s *testServer) changePassword(t testing.TB, email string) {
	t.Helper()
	body := `{"client_id":"` + s.ClientID + `","email":"` + email + `","connection":"` + dbConn + `"}`
	if st, out := benchPost(s.HTTP, s.URL+"/dbconnections/change_password", "", body); st != http.StatusOK {
		t.Fatalf("change_password %s: %d %s", email, st, out)
	}
}

// TestInvitationsQueuedDuringAnSMTPOutage requests 20 invitations while the
// SMTP server is down: each is kept in the outbox, failed with a retry
// scheduled, and once the server is back each arrives exactly once. The
// retry waits for Usher's real backoff (15 to 18 seconds), which the test
// lets pass on the server's clock rather than waiting for it.
func TestInvitationsQueuedDuringAnSMTPOutage(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sink := mailtest.Start(t)
		sink.Stop()
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		tok := s.token(t)
		const n = 20
		emails := createUsers(t, s, tok, "invitee", n, false)
		for _, e := range emails {
			s.changePassword(t, e)
		}

		// Down: every invitation is in the outbox, failed, with a retry set.
		waitFor(t, 20*time.Second, "20 failed first attempts", func() bool { return s.outboxTotal(t, tok, "failed") == n })
		for _, m := range s.outbox(t, tok, "") {
			if m.Status != "failed" || m.Attempts != 1 || !strings.Contains(m.LastReply, "connect to "+sink.Addr) || m.NextAttempt == "" {
				t.Errorf("during the outage: %+v; want failed once, naming the server, with a next attempt", m)
			}
		}
		if got := len(sink.Messages()); got != 0 {
			t.Fatalf("%d mails arrived while the server was down", got)
		}

		sink.Restart(t)
		s.Clock.Advance(18 * time.Second) // the longest first backoff: 15 s and 20% jitter
		sink.Wait(t, n, 60*time.Second)
		waitFor(t, 20*time.Second, "20 mails recorded as sent", func() bool { return s.outboxTotal(t, tok, "sent") == n })
		outbox := s.outbox(t, tok, "")
		wantEachOnce(t, outbox, sink.Messages())
		for _, m := range outbox {
			if m.Attempts != 2 {
				t.Errorf("%s: %d attempts; want 2 (the failure, then the delivery)", m.ID, m.Attempts)
			}
		}
		var to []string
		for _, m := range sink.Messages() {
			to = append(to, m.To...)
		}
		slices.Sort(to)
		if !slices.Equal(to, emails) {
			t.Errorf("mails went to %v; want one to each of %v", to, emails)
		}
	})
}

// TestOutboxSurvivesAKilledProcess runs the built binary on SQLite, queues
// mails while the SMTP server is slow, kills the process (SIGKILL) in the
// middle of a batch, and starts it again on the same file: every queued mail
// is delivered.
//
// What is guaranteed is at-least-once delivery. The worker records each
// delivery as soon as the server accepts the mail, so a mail recorded as
// sent is never sent again; but a mail the server has already kept while
// its "250" is still on the way (the sink here keeps each mail, then
// answers 2 seconds later) is not recorded when the process dies, and is
// sent again after the restart, with the same Message-ID so that the
// receiver can drop the duplicate. That window holds at most the one mail
// in flight on the connection when the process died.
//
// A killed worker's claimed mails wait for their lease (two minutes) to
// lapse before any worker takes them again. Rather than wait, the test
// moves the end of those leases to now in the database, as the clock
// would.
func TestOutboxSurvivesAKilledProcess(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildUsher(t)
	sink := mailtest.Start(t)
	sink.Delay(2 * time.Second)
	dbFile := filepath.Join(t.TempDir(), "usher.db")

	s, kill := startBinary(t, bin, "sqlite:"+dbFile, sink.URL())
	tok := s.token(t)
	const n = 8
	createUsers(t, s, tok, "killed", n, true) // each queues a verify_email
	raw, err := sql.Open("sqlite", dbFile)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	statuses := func() map[string]string { // Message-ID → status
		state := map[string]string{}
		rows, err := raw.Query(`SELECT message_id, status FROM mails`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, status string
			if err := rows.Scan(&id, &status); err != nil {
				t.Fatal(err)
			}
			state[id] = status
		}
		return state
	}

	// The third mail is kept by the server, its answer 2 seconds away. The
	// two before it were answered: each is recorded as sent at once, not at
	// the end of the batch.
	before := sink.Wait(t, 3, 30*time.Second)
	waitFor(t, 10*time.Second, "the mails answered before the one in flight to be recorded as sent", func() bool {
		state := statuses()
		for _, m := range before[:len(before)-1] {
			if state[m.MessageID] != "sent" {
				return false
			}
		}
		return true
	})
	kill() // SIGKILL, while the server holds the third mail's answer

	state := statuses() // as the dead process left it
	if len(state) != n {
		t.Fatalf("%d mails in the outbox after the kill; want %d", len(state), n)
	}
	var unrecorded []string // delivered before the kill, not recorded as sent
	for id := range countIDs(before) {
		if state[id] != "sent" {
			unrecorded = append(unrecorded, id)
		}
	}
	if len(unrecorded) > 1 {
		t.Errorf("%d delivered mails were not recorded as sent at the kill (%v); want at most the one in flight", len(unrecorded), unrecorded)
	}
	t.Logf("at the kill: %d mails delivered, %d of them not yet recorded; statuses %v", len(before), len(unrecorded), state)

	// The leases of the dead process lapse (see above).
	if _, err := raw.Exec(`UPDATE mails SET next_attempt = 0 WHERE status IN ('sending', 'failed')`); err != nil {
		t.Fatal(err)
	}
	sink.Delay(0)
	s2, _ := startBinary(t, bin, "sqlite:"+dbFile, sink.URL())
	tok2 := s2.token(t)
	waitFor(t, 60*time.Second, "every mail recorded as sent after the restart", func() bool { return s2.outboxTotal(t, tok2, "sent") == n })
	outbox := s2.outbox(t, tok2, "")
	got := countIDs(sink.Messages())
	for _, m := range outbox {
		want := 1
		if slices.Contains(unrecorded, m.MessageID) {
			want = 2 // the at-least-once window: sent again, same Message-ID
		}
		if got[m.MessageID] != want {
			t.Errorf("%s (status %s at the kill) arrived %d times; want %d", m.MessageID, state[m.MessageID], got[m.MessageID], want)
		}
	}
	if len(got) != n {
		t.Errorf("the sink has %d distinct Message-IDs; want %d", len(got), n)
	}
}

// TestTwoInstancesDeliverEachMailOnce runs two servers on one PostgreSQL
// schema with one SMTP server, and queues 1,000 mails through both: each is
// delivered exactly once.
func TestTwoInstancesDeliverEachMailOnce(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t) // skips without USHER_TEST_POSTGRES_DSN
	sink := mailtest.Start(t)
	env := map[string]string{"USHER_SMTP_URL": sink.URL()}
	a := startServer(t, dsn, env)
	b := startServer(t, dsn, env)
	tokA, tokB := a.token(t), b.token(t)
	const n = 1000
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { _, errA = createUsersErr(a, tokA, "a", n/2, true) })
	wg.Go(func() { _, errB = createUsersErr(b, tokB, "b", n/2, true) })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	waitFor(t, 120*time.Second, "1,000 mails recorded as sent", func() bool { return a.outboxTotal(t, tokA, "sent") == n })
	outbox := b.outbox(t, tokB, "")
	if len(outbox) != n {
		t.Fatalf("the outbox has %d mails; want %d", len(outbox), n)
	}
	wantEachOnce(t, outbox, sink.Messages())
	for _, m := range outbox {
		if m.Status != "sent" || m.Attempts != 1 {
			t.Errorf("%s: status %s after %d attempts; want sent at the first", m.ID, m.Status, m.Attempts)
		}
	}
}
