package mail

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// OutboxStore is the part of the database the delivery worker uses.
type OutboxStore interface {
	// ClaimMails leases up to limit mails that are due (queued, failed and
	// due, or sending with a lapsed lease) to this worker until now+lease.
	// On PostgreSQL concurrent claims skip each other's rows.
	ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]identity.Mail, error)
	// RecordAttempt stores an attempt's outcome: the new status, the reply,
	// and when to try again.
	RecordAttempt(ctx context.Context, id string, at time.Time, status, reply string, next time.Time) error
}

// Transport delivers a batch of mails and reports a result for each.
type Transport interface {
	Send(ctx context.Context, mails []identity.Mail) []Result
}

// Worker delivers the outbox: it claims due mails in batches, sends each
// batch over one connection, and records every attempt. Temporary failures
// are retried with exponential backoff; a mail still undelivered after
// GiveUpAfter, or refused permanently, is dead.
type Worker struct {
	Store OutboxStore
	// Transport returns where mail goes now; nil means nowhere is set up,
	// and mail waits in the outbox (readable through the API).
	Transport   func(ctx context.Context) (Transport, error)
	Log         *slog.Logger
	Batch       int
	Poll        time.Duration
	Lease       time.Duration
	GiveUpAfter time.Duration
	wake        chan struct{}
}

// NewWorker returns a Worker with Usher's defaults.
func NewWorker(store OutboxStore, transport func(context.Context) (Transport, error), log *slog.Logger) *Worker {
	return &Worker{Store: store, Transport: transport, Log: log, Batch: 100, Poll: time.Second,
		Lease: 2 * time.Minute, GiveUpAfter: 24 * time.Hour, wake: make(chan struct{}, 1)}
}

// Notify wakes the worker: a mail was just queued.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	for {
		n, err := w.deliverOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("outbox", "error", err.Error())
		}
		if n == w.Batch {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-time.After(w.Poll):
		}
	}
}

// deliverOnce sends one batch and returns how many mails it claimed.
func (w *Worker) deliverOnce(ctx context.Context) (int, error) {
	tr, err := w.Transport(ctx)
	if err != nil || tr == nil {
		return 0, err
	}
	now := time.Now()
	mails, err := w.Store.ClaimMails(ctx, now, w.Lease, w.Batch)
	if err != nil || len(mails) == 0 {
		return 0, err
	}
	results := tr.Send(ctx, mails)
	for i, m := range mails {
		status, next := w.outcome(m, results[i], time.Now())
		// Record with a fresh context: a delivered mail must be marked sent
		// even when shutdown began during the send.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := w.Store.RecordAttempt(rctx, m.ID, time.Now(), status, results[i].Reply, next)
		cancel()
		if err != nil {
			return len(mails), err
		}
		if status != identity.MailSent {
			w.Log.Warn("mail not delivered", "mail", m.ID, "template", m.Template, "status", status, "reply", results[i].Reply)
		}
	}
	return len(mails), nil
}

// outcome decides a mail's status after an attempt, and when to retry.
func (w *Worker) outcome(m identity.Mail, r Result, now time.Time) (string, time.Time) {
	switch {
	case r.Err == nil:
		return identity.MailSent, time.Time{}
	case !r.Temp || now.Sub(m.CreatedAt) >= w.GiveUpAfter:
		return identity.MailDead, time.Time{}
	}
	return identity.MailFailed, now.Add(Backoff(m.Attempts + 1))
}

// Backoff is the wait before the next attempt after attempt n (from 1):
// 15 s doubling to at most an hour, with up to 20% jitter so that a
// recovering server is not met by every mail at once.
func Backoff(n int) time.Duration {
	d := 15 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + time.Duration(rand.Int64N(int64(d/5)+1))
}
