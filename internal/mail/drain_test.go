package mail_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/outbox"
)

// gatedTransport sends each mail only when the test lets it through, and
// reports, before it waits, which mail it began and the batch's context.
type gatedTransport struct {
	began chan began
	let   chan struct{}
}

type began struct {
	ctx context.Context
	id  string
}

func (g *gatedTransport) Send(ctx context.Context, mails []outbox.Mail) []mail.Result {
	panic("the worker uses SendEach")
}

// SendEach behaves as SMTP's does: no mail starts once ctx is done, and a
// mail that started finishes.
func (g *gatedTransport) SendEach(ctx context.Context, mails []outbox.Mail, done func(int, mail.Result)) {
	for i, m := range mails {
		if ctx.Err() != nil {
			return
		}
		g.began <- began{ctx, m.ID}
		<-g.let
		done(i, mail.Result{Reply: "250 ok"})
	}
}

// At shutdown the batch under way goes on for Drain: the mail on its way
// finishes and is recorded sent, mails begun within Drain too; past it no
// mail starts, and the rest stay claimed for a later worker, neither failed
// nor dead.
func TestWorkerDrainsItsBatchAtShutdownWithinABound(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	clock := mailtest.NewClock(time.Now().Add(time.Hour))
	mails := queue(t, db, 5, time.Now())
	g := &gatedTransport{began: make(chan began), let: make(chan struct{})}
	w := mail.NewWorker(db, func(context.Context) (mail.Transport, error) { return g, nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.Clock, w.Drain = clock, time.Minute
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	first := <-g.began
	stop() // shutdown, while the first mail is on its way
	g.let <- struct{}{}
	second := <-g.began // within Drain the batch goes on
	g.let <- struct{}{}
	third := <-g.began
	// Drain runs out while the third mail is on its way.
	for first.ctx.Err() == nil {
		clock.Advance(time.Minute)
		time.Sleep(time.Millisecond)
	}
	g.let <- struct{}{}
	select {
	case <-done:
	case b := <-g.began:
		t.Fatalf("mail %s began after Drain ran out", b.id)
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not stop")
	}
	st := statuses(t, db)
	for _, id := range []string{first.id, second.id, third.id} {
		if st[id].Status != outbox.Sent {
			t.Errorf("%s, begun before Drain ran out: %s, want sent", id, st[id].Status)
		}
	}
	left := 0
	for _, m := range mails {
		if s := st[m.ID]; s.Status != outbox.Sent {
			left++
			if s.Status != outbox.Sending || s.Attempts != 0 {
				t.Errorf("%s, never begun: %s after %d attempts, want still claimed and untried", m.ID, s.Status, s.Attempts)
			}
		}
	}
	if left != 2 {
		t.Errorf("%d mails left unsent, want 2", left)
	}
	if d := w.Deliveries(); d != (mail.Deliveries{Sent: 3}) {
		t.Errorf("Deliveries = %+v, want 3 sent", d)
	}
}

// scripted refuses person0 for now and person1 and person2 for good, and
// takes the rest.
type scripted struct{}

func (scripted) Send(ctx context.Context, mails []outbox.Mail) []mail.Result {
	out := make([]mail.Result, len(mails))
	for i, m := range mails {
		switch {
		case m.To == "person0@example.com":
			out[i] = mail.Result{Err: errors.New("451 try later"), Temp: true, Reply: "451 try later"}
		case m.To == "person1@example.com", m.To == "person2@example.com":
			out[i] = mail.Result{Err: errors.New("550 no such user"), Reply: "550 no such user"}
		default:
			out[i] = mail.Result{Reply: "250 ok"}
		}
	}
	return out
}

func TestWorkerCountsDeliveriesByOutcome(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	queue(t, db, 6, time.Now())
	w := startWorker(t, db, func(context.Context) (mail.Transport, error) { return scripted{}, nil }, func(w *mail.Worker) {
		w.Backoff = func(int) time.Duration { return time.Hour } // one attempt each here
	})
	eventually(t, "every mail tried once", func() bool {
		d := w.Deliveries()
		return d.Sent+d.Retried+d.Dead == 6
	})
	if d := w.Deliveries(); d != (mail.Deliveries{Sent: 3, Retried: 1, Dead: 2}) {
		t.Fatalf("Deliveries = %+v, want 3 sent, 1 retried, 2 dead", d)
	}
}
