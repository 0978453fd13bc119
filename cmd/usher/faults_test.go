package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/store"
)

// TestTwoInstancesFinishAKilledImport uploads a 30,000-row import with
// invitations to one instance, SIGKILLs it in the middle of the job, and
// lets a second instance on the same PostgreSQL finish it: every user,
// invitation and mail exists exactly once, and the summary counts each row
// once.
func TestTwoInstancesFinishAKilledImport(t *testing.T) {
	t.Parallel()
	dsn, _, sink, a, killA := faultScene(t)
	tok := a.token(t)
	const n = 30000
	st, job, e := a.postImport(t, tok, usersFile(n, "killed", nil), "users.json", map[string]string{"connection_id": a.connectionID(t, tok), "invite": "true"})
	if st != http.StatusAccepted && st != http.StatusCreated {
		t.Fatalf("import: %d %+v", st, e)
	}
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var running identity.Job
	waitFor(t, 60*time.Second, "the import to get going", func() bool {
		running, err = db.Job(context.Background(), job.ID)
		return err == nil && running.RowsDone >= 3000
	})
	killA()
	if running, _ = db.Job(context.Background(), job.ID); running.Done() {
		t.Fatalf("the import finished before the kill (%d rows); the test proves nothing", running.RowsDone)
	}
	b := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
	// The killed instance's lease lasts a minute from its last batch; let it
	// run out now rather than a minute later, as if the kill were older.
	if err := db.LeaseJob(context.Background(), job.ID, running.Claim, time.Now()); err != nil {
		t.Fatal(err)
	}
	done := b.waitJob(t, b.token(t), job.ID)
	sum := done.Summary
	if done.Status != "completed" || sum.Total != n || sum.Inserted != n || sum.Invited != n || sum.Failed != 0 || sum.Updated != 0 {
		t.Fatalf("job after the takeover at row %d: %s %+v", running.RowsDone, done.Status, sum)
	}
	ctx := context.Background()
	_, users, err := db.Users(ctx, identity.UserQuery{PerPage: 1, IncludeTotals: true})
	if err != nil || users != n {
		t.Fatalf("users: %d %v, want %d", users, err, n)
	}
	_, invs, err := db.Invitations(ctx, identity.InvitationQuery{PerPage: 1, IncludeTotals: true, Now: time.Now()})
	if err != nil || invs != n {
		t.Fatalf("invitations: %d %v, want %d", invs, err, n)
	}
	_, mails, err := db.Mails(ctx, mail.Query{PerPage: 1})
	if err != nil || mails != n {
		t.Fatalf("mails: %d %v, want %d", mails, err, n)
	}
	t.Logf("killed at row %d of %d; the second instance finished the job", running.RowsDone, n)
}

// TestTwoInstancesInviteThroughAKillAndAnOutage sends 4,000 invitations
// over two instances on one PostgreSQL, each with its own Idempotency-Key
// and retried on the other instance when a call fails, as a client behind a
// load balancer does. Meanwhile the SMTP server refuses mail, then stops,
// one instance is SIGKILLed and started again, and the SMTP server comes
// back after 30 seconds. Every acknowledged invitation exists exactly once
// and every invitee gets their mail; a mail sent twice (delivery is at least
// once) is counted.
func TestTwoInstancesInviteThroughAKillAndAnOutage(t *testing.T) {
	t.Parallel()
	dsn, bin, sink, a, killA := faultScene(t)
	b := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})

	var mu sync.Mutex // guards instances
	instances := []struct {
		s   *testServer
		tok string
	}{{a, a.token(t)}, {b, b.token(t)}}
	const n = 4000
	var next, acked, retried atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				body, _ := json.Marshal(map[string]any{"email": fmt.Sprintf("invitee%04d@example.com", i)})
				for try := 0; ; try++ {
					mu.Lock()
					in := instances[(i+try)%2]
					mu.Unlock()
					req, _ := http.NewRequest("POST", in.s.URL+"/usher/v1/invitations", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+in.tok)
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", fmt.Sprintf("invite-%d", i))
					resp, err := in.s.HTTP.Do(req)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
							acked.Add(1)
							break
						}
						if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
							t.Errorf("invitation %d: %d", i, resp.StatusCode)
							return
						}
					}
					if try == 50 {
						t.Errorf("invitation %d: no instance took it: %v", i, err)
						return
					}
					retried.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	after := func(count int64) {
		waitFor(t, 60*time.Second, fmt.Sprintf("%d invitations acknowledged", count), func() bool { return acked.Load() >= count })
	}
	after(800)
	sink.Refuse(true) // stopping: it answers 451 to every mail
	after(1200)
	sink.Stop() // gone: connections refused
	outage := time.Now()
	after(1600)
	killA()
	after(2400)
	a2, _ := startBinary(t, bin, dsn, sink.URL())
	tokA2 := a2.token(t)
	mu.Lock()
	instances[0].s, instances[0].tok = a2, tokA2
	mu.Unlock()
	after(3000)
	// The SMTP server stays away 30 seconds in all, as a restart of a real
	// one can; the invitations go on meanwhile.
	time.Sleep(time.Until(outage.Add(30 * time.Second)))
	sink.Restart(t)
	sink.Refuse(false)
	down := time.Since(outage)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Mails that failed during the outage wait for their next attempt
	// (15 s and more): move the second instance an hour on, so its worker
	// retries them now, along with the mails the killed instance held.
	b.Clock.Advance(time.Hour)
	tokB := b.token(t)
	waitFor(t, 120*time.Second, "every invitee's mail", func() bool {
		return len(recipients(sink.Messages())) == n
	})
	got := recipients(sink.Messages())
	twice := 0
	for _, c := range got {
		twice += c - 1
	}
	var invs struct {
		Total int `json:"total"`
	}
	b.call(t, "GET", "/usher/v1/invitations?per_page=1", tokB, nil, &invs)
	if invs.Total != n {
		t.Errorf("%d invitations after %d acknowledged, want %d", invs.Total, acked.Load(), n)
	}
	if dead := b.outboxTotal(t, tokB, "dead"); dead != 0 {
		t.Errorf("%d mails dead", dead)
	}
	t.Logf("%d invitations acknowledged (%d calls retried on the other instance), SMTP down %.1fs; %d invitees got their mail, %d of them twice",
		acked.Load(), retried.Load(), down.Seconds(), len(got), twice)
}

// faultScene is what a fault test starts from: a PostgreSQL schema, the
// built binary, an SMTP server, and a first instance in a process of its
// own, which the returned function SIGKILLs.
func faultScene(t *testing.T) (dsn, bin string, sink *mailtest.Sink, a *testServer, kill func()) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dsn = postgresDSN(t)
	bin = buildUsher(t)
	sink = mailtest.Start(t)
	a, kill = startBinary(t, bin, dsn, sink.URL())
	return dsn, bin, sink, a, kill
}

// recipients counts the mails each address received.
func recipients(msgs []mailtest.Message) map[string]int {
	got := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			got[to]++
		}
	}
	return got
}
