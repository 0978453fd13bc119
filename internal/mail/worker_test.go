package mail_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/textproto"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/outbox"
	"github.com/usherid/usher/internal/store"
)

// These tests run the outbox Worker against a real store (a SQLite file)
// and a real SMTP server on loopback.

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "usher.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// queue writes n mails to the outbox, created at created.
func queue(t *testing.T, db *store.DB, n int, created time.Time) []outbox.Mail {
	t.Helper()
	mails := make([]outbox.Mail, n)
	for i := range mails {
		html := fmt.Sprintf(`<h1>Bienvenue, Zoë</h1><p>Your link: <a href="https://id.example.com/lo/reset?ticket=T%d#type=invite">accept the invitation</a></p>`, i)
		m := outbox.Mail{
			ID: fmt.Sprintf("mail_w%03d", i), MessageID: fmt.Sprintf("w%03d.%d@usher.test", i, time.Now().UnixNano()),
			Template: "reset_email", UserID: fmt.Sprintf("auth0|%03d", i), To: fmt.Sprintf("person%d@example.com", i),
			From: "Usher <no-reply@usher.test>", Subject: fmt.Sprintf("You are invited to Übung %d", i),
			HTML: html, Text: mail.TextOf(html), CreatedAt: created,
		}
		if err := db.EnqueueMail(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		mails[i] = m
	}
	return mails
}

// transportTo is a Worker's Transport delivering to sink.
func transportTo(t *testing.T, addr string) func(context.Context) (mail.Transport, error) {
	t.Helper()
	s, err := mail.ParseSMTPURL("smtp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	return func(context.Context) (mail.Transport, error) { return s, nil }
}

// startWorker runs a Worker with a short poll and backoff until the test ends.
func startWorker(t *testing.T, db mail.OutboxStore, transport func(context.Context) (mail.Transport, error), edit func(w *mail.Worker)) *mail.Worker {
	t.Helper()
	w := mail.NewWorker(db, transport, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.Poll = 10 * time.Millisecond
	w.Backoff = func(int) time.Duration { return 50 * time.Millisecond }
	if edit != nil {
		edit(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// eventually polls cond until it holds, failing the test after 20 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// statuses returns every mail of the outbox by id.
func statuses(t *testing.T, db *store.DB) map[string]outbox.Mail {
	t.Helper()
	mails, _, err := db.Mails(t.Context(), mail.Query{PerPage: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]outbox.Mail{}
	for _, m := range mails {
		out[m.ID] = m
	}
	return out
}

// all reports whether every mail of the outbox is in status.
func all(t *testing.T, db *store.DB, n int, status string) func() bool {
	return func() bool {
		_, total, err := db.Mails(t.Context(), mail.Query{Status: status, PerPage: 1})
		if err != nil {
			t.Fatal(err)
		}
		return total == n
	}
}

// byMessageID counts the sink's mails by Message-ID.
func byMessageID(msgs []mailtest.Message) map[string]int {
	n := map[string]int{}
	for _, m := range msgs {
		n[m.MessageID]++
	}
	return n
}

func normalize(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

func TestWorkerDeliversMultipartWithStoredMessageID(t *testing.T) {
	db := openStore(t)
	sink := mailtest.Start(t)
	mails := queue(t, db, 3, time.Now())
	startWorker(t, db, transportTo(t, sink.Addr), nil)

	got := sink.Wait(t, 3, 20*time.Second)
	eventually(t, "all 3 mails recorded as sent", all(t, db, 3, outbox.Sent))
	if len(sink.Messages()) != 3 {
		t.Fatalf("the sink has %d mails; want 3", len(sink.Messages()))
	}
	byID := map[string]mailtest.Message{}
	for _, m := range got {
		byID[m.MessageID] = m
	}
	for _, m := range mails {
		r, ok := byID[m.MessageID]
		if !ok {
			t.Errorf("no mail with Message-ID %s arrived (got %v)", m.MessageID, byMessageID(got))
			continue
		}
		if r.From != "no-reply@usher.test" || !slices.Equal(r.To, []string{m.To}) || r.Subject != m.Subject {
			t.Errorf("envelope or subject of %s: from %q to %v subject %q", m.ID, r.From, r.To, r.Subject)
		}
		if normalize(r.HTML) != normalize(m.HTML) || normalize(r.Text) != normalize(m.Text) {
			t.Errorf("parts of %s:\nHTML %q\nwant %q\nText %q\nwant %q", m.ID, r.HTML, m.HTML, r.Text, m.Text)
		}
		if !strings.Contains(r.Raw, "multipart/alternative") {
			t.Errorf("%s is not multipart/alternative:\n%s", m.ID, r.Raw)
		}
		stored, err := db.Mail(t.Context(), m.ID)
		if err != nil || stored.Attempts != 1 || stored.SentAt.IsZero() || !strings.HasPrefix(stored.LastReply, "250") {
			t.Errorf("stored %s: %+v, %v", m.ID, stored, err)
		}
		attempts, err := db.MailAttempts(t.Context(), m.ID)
		if err != nil || len(attempts) != 1 || attempts[0].Status != outbox.Sent {
			t.Errorf("attempts of %s: %+v, %v", m.ID, attempts, err)
		}
	}
}

func TestWorkerRetriesThroughAnOutageAndDeliversEachMailOnce(t *testing.T) {
	db := openStore(t)
	sink := mailtest.Start(t)
	sink.Stop()
	mails := queue(t, db, 5, time.Now())
	var mu sync.Mutex
	var asked []int // the attempt numbers Backoff was asked about
	startWorker(t, db, transportTo(t, sink.Addr), func(w *mail.Worker) {
		w.Backoff = func(n int) time.Duration {
			mu.Lock()
			asked = append(asked, n)
			mu.Unlock()
			return 100 * time.Millisecond
		}
	})

	// While the server is down every mail fails, with another attempt scheduled.
	eventually(t, "every mail failed twice while the server is down", func() bool {
		for _, m := range statuses(t, db) {
			if m.Attempts < 2 {
				return false
			}
		}
		return true
	})
	for _, m := range mails {
		attempts, err := db.MailAttempts(t.Context(), m.ID)
		if err != nil || len(attempts) < 2 {
			t.Fatalf("attempts of %s: %+v, %v", m.ID, attempts, err)
		}
		for _, a := range attempts {
			if a.Status != outbox.Failed || !strings.Contains(a.Reply, "connect to "+sink.Addr) {
				t.Errorf("attempt of %s during the outage: %+v; want failed, naming the server", m.ID, a)
			}
		}
		if got, _ := db.Mail(t.Context(), m.ID); got.Status == outbox.Dead {
			t.Errorf("%s went dead during a temporary outage", m.ID)
		}
	}
	mu.Lock()
	if len(asked) == 0 || asked[0] != 1 || !slices.Contains(asked, 2) {
		t.Errorf("Backoff was asked about attempts %v; want 1, then 2, …", asked)
	}
	mu.Unlock()

	sink.Restart(t)
	eventually(t, "all 5 mails sent after the server came back", all(t, db, 5, outbox.Sent))
	counts := byMessageID(sink.Messages())
	for _, m := range mails {
		if counts[m.MessageID] != 1 {
			t.Errorf("%s arrived %d times; want once", m.MessageID, counts[m.MessageID])
		}
	}
	if len(counts) != len(mails) {
		t.Errorf("the sink has %d distinct mails; want %d", len(counts), len(mails))
	}
	for _, m := range statuses(t, db) {
		attempts, _ := db.MailAttempts(t.Context(), m.ID)
		if len(attempts) != m.Attempts || attempts[len(attempts)-1].Status != outbox.Sent {
			t.Errorf("%s: %d attempts counted, %d kept, last %+v", m.ID, m.Attempts, len(attempts), attempts[len(attempts)-1])
		}
	}
}

func TestWorkerPermanentRefusalIsDead(t *testing.T) {
	db := openStore(t)
	sink := mailtest.Start(t)
	sink.Reject(true)
	mails := queue(t, db, 2, time.Now())
	startWorker(t, db, transportTo(t, sink.Addr), nil)
	eventually(t, "both mails dead", all(t, db, 2, outbox.Dead))
	for _, m := range mails {
		got, _ := db.Mail(t.Context(), m.ID)
		attempts, _ := db.MailAttempts(t.Context(), m.ID)
		if got.Attempts != 1 || !strings.Contains(got.LastReply, "550") || len(attempts) != 1 || attempts[0].Status != outbox.Dead {
			t.Errorf("%s: attempts %d, reply %q, history %+v; want one dead attempt with the 550", m.ID, got.Attempts, got.LastReply, attempts)
		}
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("the sink kept %d refused mails", n)
	}
}

func TestWorkerGivesUpOnOldMail(t *testing.T) {
	db := openStore(t)
	sink := mailtest.Start(t)
	sink.Refuse(true) // 451: temporary
	old := queue(t, db, 1, time.Now().Add(-2*time.Hour))[0]
	startWorker(t, db, transportTo(t, sink.Addr), func(w *mail.Worker) { w.GiveUpAfter = time.Hour })
	eventually(t, "the old mail dead", all(t, db, 1, outbox.Dead))
	if got, _ := db.Mail(t.Context(), old.ID); got.Attempts != 1 || !strings.Contains(got.LastReply, "451") {
		t.Errorf("old mail: attempts %d, reply %q; want 1 attempt, the 451", got.Attempts, got.LastReply)
	}
}

func TestWorkerBadAddressFailsOnlyItsMail(t *testing.T) {
	db := openStore(t)
	sink := mailtest.Start(t)
	good := queue(t, db, 2, time.Now())
	bad := outbox.Mail{ID: "mail_bad", MessageID: "bad@usher.test", Template: "reset_email", To: "not an address",
		From: "Usher <no-reply@usher.test>", Subject: "x", HTML: "<p>x</p>", Text: "x", CreatedAt: time.Now()}
	if err := db.EnqueueMail(t.Context(), bad); err != nil {
		t.Fatal(err)
	}
	startWorker(t, db, transportTo(t, sink.Addr), nil)
	eventually(t, "the good mails sent", all(t, db, 2, outbox.Sent))
	eventually(t, "the bad one dead", all(t, db, 1, outbox.Dead))
	if got := byMessageID(sink.Messages()); len(got) != 2 || got[good[0].MessageID] != 1 || got[good[1].MessageID] != 1 {
		t.Errorf("arrived %v; want each good mail once", got)
	}
}

func TestWorkerWithoutTransportLeavesMailQueued(t *testing.T) {
	db := openStore(t)
	mails := queue(t, db, 2, time.Now())
	var asked atomic.Int64
	startWorker(t, db, func(context.Context) (mail.Transport, error) {
		asked.Add(1)
		return nil, nil
	}, nil)
	eventually(t, "the worker looked for a transport 5 times", func() bool { return asked.Load() >= 5 })
	for _, m := range mails {
		got, err := db.Mail(t.Context(), m.ID)
		attempts, _ := db.MailAttempts(t.Context(), m.ID)
		if err != nil || got.Status != outbox.Queued || got.Attempts != 0 || len(attempts) != 0 {
			t.Errorf("%s without a transport: status %s, attempts %d, history %d, %v; want queued and untouched",
				m.ID, got.Status, got.Attempts, len(attempts), err)
		}
	}
}

// TestWorkerConnectionLostAfterAMail uses a server that accepts one mail per
// connection and then hangs up, as servers that cap mails per connection
// or crash do. The mail it accepted is delivered and must be recorded as
// sent (not sent again); the next one was never delivered and must go on
// a new connection (not be given up on).
func TestWorkerConnectionLostAfterAMail(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			db := openStore(t)
			srv := startFakeServer(t, pipelining, 1)
			mails := queue(t, db, 3, time.Now())
			startWorker(t, db, transportTo(t, srv.addr), nil)
			eventually(t, "all 3 mails sent", all(t, db, 3, outbox.Sent))
			got := srv.received()
			for _, m := range mails {
				if got[m.MessageID] != 1 {
					t.Errorf("%s arrived %d times; want once (all: %v)", m.MessageID, got[m.MessageID], got)
				}
			}
		})
	}
}

// TestWorkerRefusedRecipientSparesTheRest has the server refuse one
// recipient in the middle of a batch: that mail is dead, and the mails
// after it go through on the same connection.
func TestWorkerRefusedRecipientSparesTheRest(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			db := openStore(t)
			srv := startFakeServer(t, pipelining, 0)
			mails := queue(t, db, 3, time.Now())
			refused := mails[1]
			refused.ID, refused.MessageID, refused.To = "mail_refused", "refused@usher.test", "nobody@example.com"
			if err := db.EnqueueMail(t.Context(), refused); err != nil {
				t.Fatal(err)
			}
			startWorker(t, db, transportTo(t, srv.addr), func(w *mail.Worker) { w.Batch = 10 })
			eventually(t, "3 mails sent", all(t, db, 3, outbox.Sent))
			eventually(t, "the refused one dead", all(t, db, 1, outbox.Dead))
			if got, _ := db.Mail(t.Context(), refused.ID); !strings.HasPrefix(got.LastReply, "550") {
				t.Errorf("refused mail's reply %q; want the 550", got.LastReply)
			}
			got := srv.received()
			for _, m := range mails {
				if got[m.MessageID] != 1 {
					t.Errorf("%s arrived %d times; want once (all: %v)", m.MessageID, got[m.MessageID], got)
				}
			}
			if len(got) != 3 {
				t.Errorf("received %v; want the 3 good mails", got)
			}
			if n := srv.connections(); n != 1 {
				t.Errorf("%d connections; want 1", n)
			}
		})
	}
}

// TestWorkerResetsAfterARefusedMessage has the server refuse a message
// after its DATA with a temporary error and then insist on an RSET: the
// mails after it still go through, and none is dead, since a server that
// complains about the order of commands refuses no mail.
func TestWorkerResetsAfterARefusedMessage(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			db := openStore(t)
			srv := startFakeServer(t, pipelining, 0)
			srv.failFirst = true
			mails := queue(t, db, 3, time.Now())
			startWorker(t, db, transportTo(t, srv.addr), func(w *mail.Worker) { w.Batch = 10 })
			eventually(t, "all 3 mails sent", all(t, db, 3, outbox.Sent))
			if _, dead, _ := db.Mails(t.Context(), mail.Query{Status: outbox.Dead, PerPage: 1}); dead != 0 {
				t.Errorf("%d mails dead", dead)
			}
			got := srv.received()
			for _, m := range mails {
				if got[m.MessageID] != 1 {
					t.Errorf("%s arrived %d times; want once (all: %v)", m.MessageID, got[m.MessageID], got)
				}
			}
		})
	}
}

// TestWorkerCommandErrorIsNotARefusal: a 503 to MAIL says the conversation
// went wrong, not that the mail is refused, so the mail is tried again
// rather than declared dead.
func TestWorkerCommandErrorIsNotARefusal(t *testing.T) {
	db := openStore(t)
	srv := startFakeServer(t, true, 0)
	srv.rsetFirst = true
	queue(t, db, 3, time.Now())
	startWorker(t, db, transportTo(t, srv.addr), func(w *mail.Worker) { w.Batch = 10 })
	eventually(t, "2 mails sent", all(t, db, 2, outbox.Sent))
	eventually(t, "the first mail tried twice", func() bool {
		for _, m := range statuses(t, db) {
			if m.Status != outbox.Sent && m.Attempts >= 2 {
				return true
			}
		}
		return false
	})
	for id, m := range statuses(t, db) {
		if m.Status == outbox.Dead {
			t.Errorf("%s dead after %q", id, m.LastReply)
		}
		if m.Status != outbox.Sent && !strings.HasPrefix(m.LastReply, "503") {
			t.Errorf("%s: last reply %q, want the 503", id, m.LastReply)
		}
	}
}

// fakeServer is a minimal SMTP server: it refuses the recipient
// nobody@example.com, and hangs up after perConn mails (0: never).
type fakeServer struct {
	addr       string
	pipelining bool
	perConn    int
	// failFirst makes it answer the first message's end 451 and then, as
	// Mailpit does while it stops, refuse any MAIL before an RSET with 503.
	failFirst bool
	// rsetFirst makes it refuse the first MAIL of each connection with 503,
	// a complaint about the conversation, not about the mail.
	rsetFirst bool
	mu        sync.Mutex
	ids       map[string]int
	conns     int
}

func startFakeServer(t *testing.T, pipelining bool, perConn int) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{addr: ln.Addr().String(), pipelining: pipelining, perConn: perConn, ids: map[string]int{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *fakeServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 fake.test ESMTP")
	accepted, rcpts, needRset := 0, 0, s.rsetFirst
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		switch verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0]); {
		case verb == "EHLO" && s.pipelining:
			tp.PrintfLine("250-fake.test\r\n250 PIPELINING")
		case verb == "EHLO":
			tp.PrintfLine("250 fake.test")
		case verb == "MAIL" && needRset:
			tp.PrintfLine("503 5.5.1 Bad sequence of commands")
		case verb == "MAIL" || verb == "RSET":
			rcpts, needRset = 0, false
			tp.PrintfLine("250 ok")
		case verb == "RCPT" && strings.Contains(line, "nobody@"):
			tp.PrintfLine("550 5.1.1 no such mailbox")
		case verb == "RCPT":
			rcpts++
			tp.PrintfLine("250 ok")
		case verb == "DATA" && rcpts == 0:
			tp.PrintfLine("554 5.5.1 no valid recipients")
		case verb == "DATA":
			tp.PrintfLine("354 go ahead")
			data, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return
			}
			hdr, _ := textproto.NewReader(bufio.NewReader(strings.NewReader(string(data)))).ReadMIMEHeader()
			s.mu.Lock()
			if s.failFirst {
				s.failFirst, needRset = false, true
				s.mu.Unlock()
				tp.PrintfLine("451 4.3.0 try again later")
				continue
			}
			s.ids[strings.Trim(hdr.Get("Message-Id"), "<>")]++
			s.mu.Unlock()
			tp.PrintfLine("250 2.0.0 accepted")
			if accepted++; accepted == s.perConn {
				return // and hang up
			}
		case verb == "QUIT":
			tp.PrintfLine("221 bye")
			return
		default: // HELO, NOOP
			tp.PrintfLine("250 ok")
		}
	}
}

func (s *fakeServer) received() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ids)
}

func (s *fakeServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// claimCounter is the store, counting the worker's capped claims.
type claimCounter struct {
	*store.DB
	capped atomic.Int64
}

func (c *claimCounter) ClaimMailsCapped(ctx context.Context, now time.Time, lease time.Duration, limit int, rate mail.Rate) ([]outbox.Mail, mail.RateWindow, error) {
	c.capped.Add(1)
	return c.DB.ClaimMailsCapped(ctx, now, lease, limit, rate)
}

// TestWorkerRateCapWaitsForTheNextWindow runs a worker with a cap of 3 a
// window on a clock that moves only when told: it sends 3, then sleeps until
// the window ends without asking the database again, whatever wakes it, and
// sends the rest in the windows after.
func TestWorkerRateCapWaitsForTheNextWindow(t *testing.T) {
	db := openStore(t)
	counted := &claimCounter{DB: db}
	sink := mailtest.Start(t)
	clock := mailtest.NewClock(time.Now().Add(time.Hour))
	mails := queue(t, db, 7, time.Now())
	w := startWorker(t, counted, transportTo(t, sink.Addr), func(w *mail.Worker) {
		w.Poll, w.Rate, w.Clock = time.Millisecond, mail.PerMinute(3), clock
	})
	held := func(waits int64, sent int) func() bool {
		return func() bool {
			n, err := w.Held(t.Context())
			return err == nil && n > 0 && w.RateStatus().Waits == waits && all(t, db, sent, outbox.Sent)()
		}
	}

	eventually(t, "3 sent and the worker waiting", held(1, 3))
	if n, _ := w.Held(t.Context()); n != 4 {
		t.Errorf("Held = %d; want the 4 mails left", n)
	}
	if st := w.RateStatus(); st.Claimed != 3 {
		t.Errorf("RateStatus = %+v; want 3 claimed in the window", st)
	}
	// Asleep until the window ends: new mail, retries and polls do not make
	// it ask the database again, let alone send.
	claims := counted.capped.Load()
	for range 20 {
		w.Notify()
		time.Sleep(10 * time.Millisecond)
	}
	if got := counted.capped.Load(); got != claims {
		t.Errorf("the waiting worker claimed %d more times", got-claims)
	}
	if n := len(sink.Messages()); n != 3 {
		t.Fatalf("%d mails arrived in the first window; want 3", n)
	}
	for _, m := range mails[3:] {
		got, _ := db.Mail(t.Context(), m.ID)
		if got.Status != outbox.Queued || got.Attempts != 0 {
			t.Errorf("held %s: status %s, %d attempts; want queued, untried", m.ID, got.Status, got.Attempts)
		}
	}

	clock.Advance(time.Minute)
	eventually(t, "6 sent and the worker waiting again", held(2, 6))
	if n := len(sink.Messages()); n != 6 {
		t.Fatalf("%d mails arrived by the second window; want 6", n)
	}
	clock.Advance(time.Minute)
	eventually(t, "all 7 sent", all(t, db, 7, outbox.Sent))
	counts := byMessageID(sink.Messages())
	for _, m := range mails {
		if counts[m.MessageID] != 1 {
			t.Errorf("%s arrived %d times; want once", m.MessageID, counts[m.MessageID])
		}
	}
	if n, _ := w.Held(t.Context()); n != 0 || w.RateStatus().Waits != 2 {
		t.Errorf("after the last window: Held %d, %+v; want nothing held, 2 waits", n, w.RateStatus())
	}
}
