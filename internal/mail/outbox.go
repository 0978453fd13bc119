package mail

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/outbox"
)

// OutboxStore is the part of the database the delivery worker uses.
type OutboxStore interface {
	// ClaimMails leases up to limit mails that are due (queued, failed and
	// due, or sending with a lapsed lease) to this worker until now+lease.
	// On PostgreSQL concurrent claims skip each other's rows.
	ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]outbox.Mail, error)
	// ClaimMailsCapped is ClaimMails under a cap shared by every worker on
	// the database: it claims no more than the cap's window has room for,
	// counts what it claimed, and reports where the window stands.
	ClaimMailsCapped(ctx context.Context, now time.Time, lease time.Duration, limit int, cap Rate) ([]outbox.Mail, RateWindow, error)
	// DueMails counts the mails a claim at now could take.
	DueMails(ctx context.Context, now time.Time) (int, error)
	// RecordAttempts stores attempts' outcomes in one transaction: each
	// mail's new status, reply and next attempt. An attempt is recorded
	// only under the claim that made it; one whose claim was lost (its
	// lease lapsed and another worker claimed the mail) is errs.ErrLeaseLost.
	RecordAttempts(ctx context.Context, attempts []AttemptRecord) error
}

// HiddenTicket stands in a stored mail where its link's ticket token was.
// A link is as good as a password, and only hashes of tickets may rest in
// the database: the token itself is kept apart (outbox.Mail.Ticket) while
// the mail is pending, put back when it is sent, and dropped once the mail
// is sent or given up. What remains shows, wherever the mail is read, as a
// link that says it is hidden.
const HiddenTicket = "[link hidden]"

// HideTicket takes token out of m's subject, sender and bodies, leaving
// HiddenTicket in its place, and keeps it in m.Ticket, if it was there.
func HideTicket(m outbox.Mail, token string) outbox.Mail {
	if token == "" {
		return m
	}
	found := false
	for _, s := range []*string{&m.Subject, &m.From, &m.HTML, &m.Text} {
		if strings.Contains(*s, token) {
			*s, found = strings.ReplaceAll(*s, token, HiddenTicket), true
		}
	}
	if found {
		m.Ticket = token
	}
	return m
}

// WithTicket is m as it is sent: its ticket back where HiddenTicket stands.
func WithTicket(m outbox.Mail) outbox.Mail {
	if m.Ticket == "" {
		return m
	}
	for _, s := range []*string{&m.Subject, &m.From, &m.HTML, &m.Text} {
		*s = strings.ReplaceAll(*s, HiddenTicket, m.Ticket)
	}
	return m
}

// HidesLink reports whether m carries a link whose ticket is hidden.
func HidesLink(m outbox.Mail) bool {
	for _, s := range []string{m.Subject, m.From, m.HTML, m.Text} {
		if strings.Contains(s, HiddenTicket) {
			return true
		}
	}
	return false
}

// errLinkGone is the outcome of a mail claimed after its link was dropped
// (it was sent or given up meanwhile): sending it would mail a dead link.
var errLinkGone = errors.New("not sent: the link in this mail was removed once it was sent or given up; send a new one")

// Rate caps how many mails every worker on one database together claim for
// delivery per window (USHER_MAIL_RATE). The zero Rate is no cap.
//
// What counts is a claim, that is an attempt begun, whatever its outcome: a
// mail claimed again after a worker died holding it may be sent twice, and a
// provider counts what it was offered, so counting claims never exceeds the cap.
type Rate struct {
	Max    int           // mails per window; 0: no cap
	Window time.Duration // how long a window lasts; must be positive
}

// PerMinute is a cap of n mails a minute; 0 is no cap.
func PerMinute(n int) Rate { return Rate{Max: n, Window: time.Minute} }

// RateWindow is where the cap's current window stands after a claim.
type RateWindow struct {
	// Start is when the window opened: at the first claim that got mail
	// after the previous window ended.
	Start time.Time
	// Claimed is how many mails every worker claimed in it, this claim included.
	Claimed int
}

// Clock is the worker's time: what is due, when attempts happen, when a
// rate window ends. Tests pass one that moves only when told (mailtest.Clock),
// to end a window without waiting for it.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real time.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Transport delivers a batch of mails and reports a result for each.
type Transport interface {
	Send(ctx context.Context, mails []outbox.Mail) []Result
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
	// Backoff is the wait before attempt n+1 after attempt n failed; nil
	// means the package's Backoff. Tests shorten it.
	Backoff func(n int) time.Duration
	// Rate caps delivery for every worker on the database together. Every
	// instance must be given the same: one without a cap does not count.
	Rate Rate
	// Clock tells the time. Poll is real time all the same: it is how soon
	// mail queued by another instance is noticed.
	Clock Clock
	// Drain bounds how long a batch under way when Run's context ends goes
	// on sending: past it no further mail of the batch starts, while the one
	// on its way finishes and is recorded. The mails not begun stay claimed,
	// and are sent when their lease lapses, by whichever worker claims them
	// then. 0: the batch goes on as long as its lease allows.
	Drain time.Duration
	wake  chan struct{}
	// The cap as this worker last saw it, for RateStatus and Held.
	claimed atomic.Int64
	waits   atomic.Int64
	held    atomic.Bool // waiting for the next window
	// The attempts recorded, by outcome, for Deliveries.
	sent, retried, dead, lost atomic.Int64
}

// NewWorker returns a Worker with Usher's defaults: no rate cap.
func NewWorker(store OutboxStore, transport func(context.Context) (Transport, error), log *slog.Logger) *Worker {
	return &Worker{Store: store, Transport: transport, Log: log, Batch: 100, Poll: time.Second,
		Lease: 2 * time.Minute, GiveUpAfter: 24 * time.Hour, Clock: SystemClock{}, wake: make(chan struct{}, 1)}
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
		n, reopens, err := w.deliverOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("outbox", "error", err.Error())
		}
		if !reopens.IsZero() {
			w.waitForWindow(ctx, reopens)
			if ctx.Err() != nil {
				return
			}
			continue
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

// waitForWindow sleeps until the rate window reopens. Mail queued meanwhile
// cannot go before then, so wake-ups are not listened to: a busy server
// would otherwise have the worker ask the database again for every mail
// queued. The wait is at most one window, should an instance whose clock
// runs ahead have opened the window in what is still our future.
func (w *Worker) waitForWindow(ctx context.Context, reopens time.Time) {
	w.held.Store(true)
	defer w.held.Store(false)
	w.waits.Add(1)
	d := min(reopens.Sub(w.Clock.Now()), w.Rate.Window)
	select {
	case <-ctx.Done():
	case <-w.Clock.After(d):
	}
}

// deliverOnce sends one batch and returns how many mails it claimed, and
// when the rate cap's window reopens if the cap is used up.
func (w *Worker) deliverOnce(ctx context.Context) (int, time.Time, error) {
	tr, err := w.Transport(ctx)
	if err != nil || tr == nil {
		return 0, time.Time{}, err
	}
	claimed := w.Clock.Now()
	mails, reopens, err := w.claim(ctx, claimed)
	if err != nil || len(mails) == 0 {
		return 0, reopens, err
	}
	rec := w.record(ctx, mails)
	// What is sent carries its link; the stored copy does not. index maps
	// a mail sent to its place in the batch claimed.
	send, index := make([]outbox.Mail, 0, len(mails)), make([]int, 0, len(mails))
	for i, m := range mails {
		if m.Ticket == "" && HidesLink(m) {
			rec.add(i, Result{Err: errLinkGone, Reply: errLinkGone.Error()})
			continue
		}
		send, index = append(send, WithTicket(m)), append(index, i)
	}
	// A batch that began goes on through shutdown, as its mails are claimed,
	// but no mail starts late in the lease: once the lease lapses another
	// worker may claim the mail and send it too. Mails not tried stay
	// claimed, and are taken again when their lease lapses.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.Lease*3/4-w.Clock.Now().Sub(claimed))
	defer cancel()
	if w.Drain > 0 {
		// Shutdown began: the batch has Drain left.
		stop := context.AfterFunc(ctx, func() {
			select {
			case <-w.Clock.After(w.Drain):
				cancel()
			case <-sendCtx.Done():
			}
		})
		defer stop()
	}
	each, ok := tr.(eachSender)
	switch {
	case len(send) == 0: // no connection for nothing
	case ok:
		each.SendEach(sendCtx, send, func(j int, r Result) { rec.add(index[j], r) })
	default:
		results := tr.Send(sendCtx, send)
		for j := range send {
			r := Result{Err: errNoResult, Temp: true, Reply: errNoResult.Error()}
			if j < len(results) {
				r = results[j]
			}
			rec.add(index[j], r)
		}
	}
	return len(mails), reopens, rec.wait()
}

// claim leases a batch of due mails, as many as the rate cap leaves room
// for. reopens is when the cap's window ends, if this claim used it up (or
// found it used up), and zero otherwise.
func (w *Worker) claim(ctx context.Context, now time.Time) (mails []outbox.Mail, reopens time.Time, err error) {
	if w.Rate.Max <= 0 {
		// Without a cap the claim stays one statement: delivery as fast as before.
		mails, err = w.Store.ClaimMails(ctx, now, w.Lease, w.Batch)
		return mails, time.Time{}, err
	}
	mails, win, err := w.Store.ClaimMailsCapped(ctx, now, w.Lease, w.Batch, w.Rate)
	if err != nil {
		return nil, time.Time{}, err
	}
	w.claimed.Store(int64(win.Claimed))
	if win.Claimed < w.Rate.Max {
		return mails, time.Time{}, nil
	}
	return mails, win.Start.Add(w.Rate.Window), nil
}

// RateStatus is the delivery cap as this worker last saw it, for /metrics.
type RateStatus struct {
	// Claimed is how many mails every instance claimed in the current window.
	Claimed int
	// Waits is how many times this worker found the window used up and
	// waited for the next one.
	Waits int64
}

// RateStatus reports the delivery cap as this worker last saw it.
func (w *Worker) RateStatus() RateStatus {
	return RateStatus{Claimed: int(w.claimed.Load()), Waits: w.waits.Load()}
}

// Deliveries counts the delivery attempts a worker recorded since it
// started, by outcome, for /metrics.
type Deliveries struct {
	Sent    int64 // delivered
	Retried int64 // failed for now: another attempt is scheduled
	Dead    int64 // given up: refused for good, or out of time
	// Lost were not recorded: the mail's lease had lapsed and another
	// worker claimed it meanwhile, whose attempt is the one kept.
	Lost int64
}

// Deliveries reports the delivery attempts w recorded so far.
func (w *Worker) Deliveries() Deliveries {
	return Deliveries{Sent: w.sent.Load(), Retried: w.retried.Load(), Dead: w.dead.Load(), Lost: w.lost.Load()}
}

// count counts attempts that were recorded.
func (w *Worker) count(attempts ...AttemptRecord) {
	for _, a := range attempts {
		switch a.Status {
		case outbox.Sent:
			w.sent.Add(1)
		case outbox.Dead:
			w.dead.Add(1)
		default:
			w.retried.Add(1)
		}
	}
}

// Held counts the mails due now that wait for the next window because the
// cap is used up; 0 while this worker is not waiting for one.
func (w *Worker) Held(ctx context.Context) (int, error) {
	if !w.held.Load() {
		return 0, nil
	}
	return w.Store.DueMails(ctx, w.Clock.Now())
}

var errNoResult = errors.New("the transport gave no result for this mail")

// eachSender is a Transport that reports each mail's result as soon as it is
// known (SMTP does), so that a delivery is recorded while the next mail is
// sent rather than after the whole batch: a worker that dies mid-batch then
// leaves at most the mails it had not yet recorded to be sent again.
type eachSender interface {
	SendEach(ctx context.Context, mails []outbox.Mail, done func(i int, r Result))
}

// AttemptRecord is one delivery attempt to store: RecordAttempt's arguments.
type AttemptRecord struct {
	ID     string
	Claim  string // the claim the attempt was made under
	At     time.Time
	Status string
	Reply  string
	Next   time.Time
}

// recorder stores a batch's attempts as their results come in, on its own
// goroutine, so that sending does not wait for the database.
type recorder struct {
	w       *Worker
	ctx     context.Context
	mails   []outbox.Mail
	results chan indexed
	done    chan error
}

type indexed struct {
	i int
	r Result
	t time.Time
}

func (w *Worker) record(ctx context.Context, mails []outbox.Mail) *recorder {
	// Records use a context of their own: a delivered mail must be marked
	// sent even when shutdown began during the send.
	r := &recorder{w: w, ctx: context.WithoutCancel(ctx), mails: mails,
		results: make(chan indexed, len(mails)), done: make(chan error, 1)}
	go r.run()
	return r
}

// add takes one mail's result; it never blocks.
func (r *recorder) add(i int, res Result) { r.results <- indexed{i, res, r.w.Clock.Now()} }

// wait returns once every result added is stored.
func (r *recorder) wait() error {
	close(r.results)
	return <-r.done
}

func (r *recorder) run() {
	var failed []error
	for first := range r.results {
		// Everything that arrived meanwhile goes in the same transaction.
		batch := []indexed{first}
	more:
		for {
			select {
			case next, ok := <-r.results:
				if !ok {
					break more
				}
				batch = append(batch, next)
			default:
				break more
			}
		}
		if err := r.store(batch); err != nil {
			failed = append(failed, err)
		}
	}
	r.done <- errors.Join(failed...)
}

func (r *recorder) store(batch []indexed) error {
	attempts := make([]AttemptRecord, len(batch))
	for j, b := range batch {
		m := r.mails[b.i]
		status, next := r.w.outcome(m, b.r, b.t)
		attempts[j] = AttemptRecord{ID: m.ID, Claim: m.Claim, At: b.t, Status: status, Reply: b.r.Reply, Next: next}
		if status != outbox.Sent {
			r.w.Log.Warn("mail not delivered", "mail", m.ID, "template", m.Template, "status", status, "reply", b.r.Reply)
		}
	}
	record := func(attempts []AttemptRecord) error {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		defer cancel()
		return r.w.Store.RecordAttempts(ctx, attempts)
	}
	if len(attempts) > 1 && record(attempts) == nil {
		r.w.count(attempts...)
		return nil
	}
	// One bad record must not cost the others theirs: one by one.
	var failed []error
	for _, a := range attempts {
		switch err := record([]AttemptRecord{a}); {
		case errors.Is(err, errs.ErrLeaseLost):
			// Another worker claimed the mail after this one's lease
			// lapsed, and sends it again: its attempt is the one kept.
			r.w.lost.Add(1)
			r.w.Log.Warn("mail claim lost", "mail", a.ID, "status", a.Status)
		case err != nil:
			failed = append(failed, err)
		default:
			r.w.count(a)
		}
	}
	return errors.Join(failed...)
}

// outcome decides a mail's status after an attempt, and when to retry.
func (w *Worker) outcome(m outbox.Mail, r Result, now time.Time) (string, time.Time) {
	switch {
	case r.Err == nil:
		return outbox.Sent, time.Time{}
	case !r.Temp || now.Sub(m.CreatedAt) >= w.GiveUpAfter:
		return outbox.Dead, time.Time{}
	}
	backoff := Backoff
	if w.Backoff != nil {
		backoff = w.Backoff
	}
	return outbox.Failed, now.Add(backoff(m.Attempts + 1))
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
