package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/outbox"
	"github.com/usherid/usher/internal/store"
)

// testOutbox is the mail outbox as the delivery worker and the outbox API
// use it: queue, claim with a lease, record attempts, retry, list.
func testOutbox(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, f *fixture)
	}{
		{"EnqueueRoundTrip", testOutboxEnqueue},
		{"ClaimDueOnly", testOutboxClaimDue},
		{"ClaimLease", testOutboxClaimLease},
		{"ClaimOrderAndLimit", testOutboxClaimOrder},
		{"RecordAttempt", testOutboxRecordAttempt},
		{"ConcurrentClaims", testOutboxConcurrentClaims},
		{"Retry", testOutboxRetry},
		{"List", testOutboxList},
		{"RateCapsAWindow", testRateCapsAWindow},
		{"RateBatchLimit", testRateBatchLimit},
		{"RateWindowOpensWithMail", testRateWindowOpensWithMail},
		{"RateLaggingClock", testRateLaggingClock},
		{"RateConcurrentClaims", testRateConcurrentClaims},
		{"RateInvalid", testRateInvalid},
		{"TicketKeptWhilePending", testOutboxTicketWhilePending},
		{"RetryWithoutLink", testOutboxRetryWithoutLink},
		{"OldMailsLoseTheirTickets", testOutboxOldMailsLoseTickets},
		{"Backlog", testOutboxBacklog},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, f.fresh(t)) })
	}
}

// newMail is an outbox mail the way the service makes one, not yet stored.
func newMail(n int, to string, created time.Time) outbox.Mail {
	return outbox.Mail{
		ID: fmt.Sprintf("mail_%04d", n), MessageID: fmt.Sprintf("msg%04d@usher.test", n), Template: "reset_email",
		UserID: fmt.Sprintf("auth0|user%04d", n), To: to, From: "Usher <no-reply@usher.test>", Subject: "Reset your password",
		HTML: `<p>Hello, <a href="https://id.example.com/lo/reset?ticket=T#">choose a password</a> — ünïcödé</p>`,
		Text: "Hello, choose a password: https://id.example.com/lo/reset?ticket=T# — ünïcödé", CreatedAt: created,
	}
}

// enqueue stores a new mail created at created for to.
func (f *fixture) enqueue(n int, to string, created time.Time) outbox.Mail {
	f.t.Helper()
	m := newMail(n, to, created)
	if err := f.db.EnqueueMail(f.ctx, m); err != nil {
		f.t.Fatalf("EnqueueMail %s: %v", m.ID, err)
	}
	return m
}

// claim claims and returns the ids it got, sorted.
func (f *fixture) claim(now time.Time, lease time.Duration, limit int) []string {
	f.t.Helper()
	mails, err := f.db.ClaimMails(f.ctx, now, lease, limit)
	if err != nil {
		f.t.Fatalf("ClaimMails at %s: %v", now.Format(time.RFC3339Nano), err)
	}
	return mailIDs(mails)
}

func (f *fixture) record(id string, when time.Time, status, reply string, next time.Time) {
	f.t.Helper()
	// Under the claim that holds the mail now, as the worker that made it.
	claim := f.mail(id).Claim
	if err := f.db.RecordAttempts(f.ctx, []mail.AttemptRecord{{ID: id, Claim: claim, At: when, Status: status, Reply: reply, Next: next}}); err != nil {
		f.t.Fatalf("RecordAttempt %s %s: %v", id, status, err)
	}
}

func (f *fixture) mail(id string) outbox.Mail {
	f.t.Helper()
	m, err := f.db.Mail(f.ctx, id)
	if err != nil {
		f.t.Fatalf("Mail %s: %v", id, err)
	}
	return m
}

func mailIDs(mails []outbox.Mail) []string {
	out := make([]string, len(mails))
	for i, m := range mails {
		out[i] = m.ID
	}
	slices.Sort(out)
	return out
}

// wantMail checks that got is want as the store gives it back.
func wantMail(t *testing.T, got, want outbox.Mail) {
	t.Helper()
	want.NextAttempt, want.CreatedAt, want.SentAt = ms(want.NextAttempt), ms(want.CreatedAt), ms(want.SentAt)
	if d := diff(got, want); d != "" {
		t.Errorf("mail %s differs:\n%s", want.ID, d)
	}
}

func testOutboxEnqueue(t *testing.T, f *fixture) {
	m := f.enqueue(1, "Ada@Example.com", at(1234))
	want := m
	want.Status, want.NextAttempt = outbox.Queued, m.CreatedAt // due at once
	wantMail(t, f.mail(m.ID), want)

	dup := newMail(1, "other@example.com", at(2000))
	wantIs(t, "EnqueueMail with a used id", f.db.EnqueueMail(f.ctx, dup), errs.ErrDuplicate)
	_, err := f.db.Mail(f.ctx, "mail_nope")
	wantIs(t, "Mail of an unknown id", err, errs.ErrNotFound)
	if attempts, err := f.db.MailAttempts(f.ctx, m.ID); err != nil || len(attempts) != 0 {
		t.Errorf("MailAttempts of a new mail = %v, %v; want none", attempts, err)
	}
}

func testOutboxClaimDue(t *testing.T, f *fixture) {
	past := f.enqueue(1, "a@example.com", at(1000))
	exact := f.enqueue(2, "b@example.com", at(2000))
	future := f.enqueue(3, "c@example.com", at(2001))
	now := at(2000)
	mails, err := f.db.ClaimMails(f.ctx, now, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := mailIDs(mails); !slices.Equal(got, []string{past.ID, exact.ID}) {
		t.Fatalf("claimed %v at %v; want the two due mails %s and %s, not %s", got, now, past.ID, exact.ID, future.ID)
	}
	// A claimed mail comes back whole, marked sending until the lease ends,
	// under the claim's own token.
	if mails[0].Claim == "" || mails[1].Claim != mails[0].Claim {
		t.Errorf("claims %q and %q; want one token for the claim", mails[0].Claim, mails[1].Claim)
	}
	for _, m := range mails {
		want := newMail(map[string]int{past.ID: 1, exact.ID: 2}[m.ID], m.To, m.CreatedAt)
		want.Status, want.NextAttempt, want.Claim = outbox.Sending, now.Add(time.Minute), mails[0].Claim
		wantMail(t, m, want)
		wantMail(t, f.mail(m.ID), want)
	}
	if got := f.mail(future.ID); got.Status != outbox.Queued {
		t.Errorf("the mail not yet due is %s; want queued", got.Status)
	}

	// Sent and dead mails are never claimed, however old.
	sent, dead := f.enqueue(4, "d@example.com", at(0)), f.enqueue(5, "e@example.com", at(0))
	f.record(sent.ID, at(100), outbox.Sent, "250 ok", time.Time{})
	f.record(dead.ID, at(100), outbox.Dead, "550 no such user", time.Time{})
	if got := f.claim(at(10_000_000), time.Minute, 10); slices.Contains(got, sent.ID) || slices.Contains(got, dead.ID) {
		t.Errorf("claimed %v: a sent or dead mail came back", got)
	}
}

func testOutboxClaimLease(t *testing.T, f *fixture) {
	m := f.enqueue(1, "a@example.com", at(0))
	lease := 2 * time.Minute
	if got := f.claim(at(0), lease, 10); !slices.Equal(got, []string{m.ID}) {
		t.Fatalf("first claim = %v; want %s", got, m.ID)
	}
	// While the lease runs nobody else gets the mail, up to its last millisecond.
	for _, now := range []time.Time{at(0), at(1), at(60_000), at(0).Add(lease - time.Millisecond)} {
		if got := f.claim(now, lease, 10); len(got) != 0 {
			t.Fatalf("claim at +%v during the lease = %v; want nothing", now.Sub(at(0)), got)
		}
	}
	// A worker that died holding the mail: once the lease lapses it is claimed again.
	later := at(0).Add(lease)
	mails, err := f.db.ClaimMails(f.ctx, later, lease, 10)
	if err != nil || len(mails) != 1 || mails[0].ID != m.ID {
		t.Fatalf("claim once the lease lapsed = %v, %v; want %s", mailIDs(mails), err, m.ID)
	}
	if mails[0].Status != outbox.Sending || !mails[0].NextAttempt.Equal(later.Add(lease)) || mails[0].Attempts != 0 {
		t.Errorf("reclaimed mail: status %s, next %v, attempts %d; want sending, %v, 0",
			mails[0].Status, mails[0].NextAttempt, mails[0].Attempts, later.Add(lease))
	}
	if got := f.claim(later, lease, 10); len(got) != 0 {
		t.Errorf("claim right after the reclaim = %v; want nothing", got)
	}
}

func testOutboxClaimOrder(t *testing.T, f *fixture) {
	// Due mails in every claimable state, each due at a different time.
	failed := f.enqueue(1, "a@example.com", at(0))
	lapsed := f.enqueue(2, "b@example.com", at(0))
	queued := f.enqueue(3, "c@example.com", at(3000))
	f.claim(at(0), 0, 2) // both leased until at(0)+0: lapsed at once
	f.record(failed.ID, at(10), outbox.Failed, "451 later", at(2000))
	// lapsed is still "sending" with its lease ending at(0); queued is due at(3000).
	if got := f.mail(lapsed.ID); got.Status != outbox.Sending {
		t.Fatalf("setup: %s is %s; want sending", lapsed.ID, got.Status)
	}
	now := at(5000)
	var order []string
	for range 3 {
		got := f.claim(now, time.Minute, 1)
		if len(got) != 1 {
			t.Fatalf("claim with limit 1 = %v; want one mail", got)
		}
		order = append(order, got[0])
	}
	if want := []string{lapsed.ID, failed.ID, queued.ID}; !slices.Equal(order, want) {
		t.Errorf("claim order %v; want the longest due first %v", order, want)
	}

	// The limit caps a batch; the rest wait for the next claim.
	g := f.fresh(t)
	for i := range 5 {
		g.enqueue(10+i, "x@example.com", at(i))
	}
	if first := g.claim(at(100), time.Minute, 3); len(first) != 3 || !slices.Equal(first, []string{"mail_0010", "mail_0011", "mail_0012"}) {
		t.Errorf("first batch of 3 = %v; want the 3 oldest", first)
	}
	if rest := g.claim(at(100), time.Minute, 3); !slices.Equal(rest, []string{"mail_0013", "mail_0014"}) {
		t.Errorf("second batch = %v; want the 2 left", rest)
	}
}

func testOutboxRecordAttempt(t *testing.T, f *fixture) {
	m := f.enqueue(1, "a@example.com", at(0))
	f.claim(at(0), time.Minute, 10)

	// A temporary failure: failed, counted, due again at the time given.
	f.record(m.ID, at(500), outbox.Failed, "451 4.3.0 try again later", at(15_500))
	got := f.mail(m.ID)
	if got.Status != outbox.Failed || got.Attempts != 1 || got.LastReply != "451 4.3.0 try again later" ||
		!got.NextAttempt.Equal(at(15_500)) || !got.SentAt.IsZero() {
		t.Errorf("after a failure: %+v", got)
	}
	if ids := f.claim(at(15_499), time.Minute, 10); len(ids) != 0 {
		t.Errorf("claimed %v before the retry time", ids)
	}
	if ids := f.claim(at(15_500), time.Minute, 10); !slices.Equal(ids, []string{m.ID}) {
		t.Fatalf("claim at the retry time = %v; want %s", ids, m.ID)
	}

	// Delivered: sent, sent_at set, never claimed again.
	f.record(m.ID, at(16_000), outbox.Sent, "250 2.0.0 accepted", time.Time{})
	got = f.mail(m.ID)
	if got.Status != outbox.Sent || got.Attempts != 2 || got.LastReply != "250 2.0.0 accepted" || !got.SentAt.Equal(at(16_000)) {
		t.Errorf("after delivery: status %s, attempts %d, reply %q, sent_at %v", got.Status, got.Attempts, got.LastReply, got.SentAt)
	}
	if ids := f.claim(at(100_000_000), time.Minute, 10); len(ids) != 0 {
		t.Errorf("claimed %v after delivery", ids)
	}

	// Every attempt is kept, oldest first.
	attempts, err := f.db.MailAttempts(f.ctx, m.ID)
	want := []mail.Attempt{
		{At: at(500), Status: outbox.Failed, Reply: "451 4.3.0 try again later"},
		{At: at(16_000), Status: outbox.Sent, Reply: "250 2.0.0 accepted"},
	}
	if err != nil || !slices.Equal(attempts, want) {
		t.Errorf("MailAttempts = %+v, %v;\nwant %+v", attempts, err, want)
	}

	// A permanent failure: dead, never claimed again, sent_at empty.
	d := f.enqueue(2, "b@example.com", at(0))
	f.record(d.ID, at(700), outbox.Dead, "550 5.1.1 no such user", time.Time{})
	if got := f.mail(d.ID); got.Status != outbox.Dead || got.Attempts != 1 || !got.SentAt.IsZero() {
		t.Errorf("after a permanent failure: %+v", got)
	}
	if ids := f.claim(at(100_000_000), time.Minute, 10); len(ids) != 0 {
		t.Errorf("claimed %v: a dead mail came back", ids)
	}
	wantIs(t, "RecordAttempt of an unknown mail",
		f.db.RecordAttempts(f.ctx, []mail.AttemptRecord{{ID: "mail_nope", At: at(1), Status: outbox.Sent, Reply: "250"}}), errs.ErrNotFound)
	if attempts, _ := f.db.MailAttempts(f.ctx, "mail_nope"); len(attempts) != 0 {
		t.Errorf("an attempt of an unknown mail was kept: %+v", attempts)
	}
}

// testOutboxConcurrentClaims has several claimers race for the same due
// mails; on PostgreSQL each runs on its own connection, so the claims really
// overlap. Every mail must be claimed by exactly one of them.
func testOutboxConcurrentClaims(t *testing.T, f *fixture) {
	const mails, claimers, batch = 300, 8, 7
	for i := range mails {
		f.enqueue(i, fmt.Sprintf("p%d@example.com", i), at(i%10))
	}
	now := at(1000)
	got := make([][]string, claimers)
	errs := make([]error, claimers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := range claimers {
		wg.Go(func() {
			<-start
			for empty := 0; empty < 3; {
				// An empty answer may only mean that the others hold the
				// rest; three in a row, and the outbox is drained.
				ms, err := f.db.ClaimMails(f.ctx, now, time.Hour, batch)
				if err != nil {
					errs[c] = err
					return
				}
				if len(ms) > batch {
					errs[c] = fmt.Errorf("claimed %d mails with a limit of %d", len(ms), batch)
					return
				}
				if len(ms) == 0 {
					empty++
					continue
				}
				empty = 0
				got[c] = append(got[c], mailIDs(ms)...)
			}
		})
	}
	close(start)
	wg.Wait()
	owner := map[string]int{}
	busy := 0
	for c, ids := range got {
		if errs[c] != nil {
			t.Errorf("claimer %d: %v", c, errs[c])
		}
		if len(ids) > 0 {
			busy++
		}
		for _, id := range ids {
			if prev, dup := owner[id]; dup {
				t.Errorf("%s was claimed by claimers %d and %d", id, prev, c)
			}
			owner[id] = c
		}
	}
	if len(owner) != mails {
		t.Errorf("%d distinct mails claimed; want all %d", len(owner), mails)
	}
	if left := f.claim(now, time.Hour, mails); len(left) != 0 {
		t.Errorf("%d mails still claimable after the race", len(left))
	}
	t.Logf("%d of %d claimers got mail", busy, claimers)
}

func testOutboxRetry(t *testing.T, f *fixture) {
	queued := f.enqueue(1, "a@example.com", at(0))
	sending := f.enqueue(2, "b@example.com", at(0))
	sent := f.enqueue(3, "c@example.com", at(0))
	failed := f.enqueue(4, "d@example.com", at(0))
	dead := f.enqueue(5, "e@example.com", at(0))
	f.claim(at(0), time.Hour, 10) // every one is sending now
	f.record(queued.ID, at(1), outbox.Failed, "451", at(0))
	if err := f.db.RetryMail(f.ctx, queued.ID, at(2)); err != nil { // back to queued, the way an operator would
		t.Fatalf("setup: %v", err)
	}
	f.record(sent.ID, at(1), outbox.Sent, "250", time.Time{})
	f.record(failed.ID, at(1), outbox.Failed, "451 later", at(3_600_000))
	f.record(dead.ID, at(1), outbox.Dead, "550 no", time.Time{})

	for _, tc := range []struct {
		id     string
		status string
	}{{queued.ID, outbox.Queued}, {sending.ID, outbox.Sending}, {sent.ID, outbox.Sent}} {
		wantIs(t, "RetryMail of a "+tc.status+" mail", f.db.RetryMail(f.ctx, tc.id, at(10)), errs.ErrNotFound)
		if got := f.mail(tc.id); got.Status != tc.status {
			t.Errorf("RetryMail changed a %s mail to %s", tc.status, got.Status)
		}
	}
	wantIs(t, "RetryMail of an unknown mail", f.db.RetryMail(f.ctx, "mail_nope", at(10)), errs.ErrNotFound)

	now := at(20)
	for _, m := range []outbox.Mail{failed, dead} {
		before := f.mail(m.ID)
		if err := f.db.RetryMail(f.ctx, m.ID, now); err != nil {
			t.Errorf("RetryMail of a %s mail: %v", before.Status, err)
			continue
		}
		got := f.mail(m.ID)
		if got.Status != outbox.Queued || !got.NextAttempt.Equal(now) || got.Attempts != before.Attempts {
			t.Errorf("retried %s mail: status %s, next %v, attempts %d; want queued, %v, %d",
				before.Status, got.Status, got.NextAttempt, got.Attempts, now, before.Attempts)
		}
	}
	// Retried mails are due now; the sending one stays leased.
	if got := f.claim(now, time.Minute, 10); !slices.Equal(got, []string{queued.ID, failed.ID, dead.ID}) {
		t.Errorf("claim after the retries = %v; want %v", got, []string{queued.ID, failed.ID, dead.ID})
	}
}

func testOutboxList(t *testing.T, f *fixture) {
	// Seven mails, created one second apart; two share a creation time.
	var all []outbox.Mail
	for i, to := range []string{"ada@example.com", "Bob@Example.com", "ada@example.com", "cy@example.com", "ADA@example.com", "bob@example.com", "dee@example.com"} {
		created := at(i * 1000)
		if i == 6 {
			created = at(5000) // ties with mail 5: the id breaks the tie
		}
		all = append(all, f.enqueue(i, to, created))
	}
	f.claim(at(10_000), time.Hour, 10)
	f.record(all[1].ID, at(10_001), outbox.Sent, "250", time.Time{})
	f.record(all[2].ID, at(10_001), outbox.Sent, "250", time.Time{})
	f.record(all[3].ID, at(10_001), outbox.Dead, "550", time.Time{})
	f.record(all[4].ID, at(10_001), outbox.Failed, "451", at(20_000))
	f.record(all[5].ID, at(10_001), outbox.Sent, "250", time.Time{})
	// all[0] and all[6] stay sending.

	ids := func(ms []outbox.Mail) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.ID
		}
		return out
	}
	id := func(n ...int) []string {
		out := make([]string, len(n))
		for i, k := range n {
			out[i] = all[k].ID
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		q     mail.Query
		want  []string
		total int
	}{
		{"everything, newest first", mail.Query{PerPage: 50}, id(6, 5, 4, 3, 2, 1, 0), 7},
		{"first page", mail.Query{PerPage: 3}, id(6, 5, 4), 7},
		{"second page", mail.Query{Page: 1, PerPage: 3}, id(3, 2, 1), 7},
		{"last page", mail.Query{Page: 2, PerPage: 3}, id(0), 7},
		{"past the end", mail.Query{Page: 3, PerPage: 3}, id(), 7},
		{"sent", mail.Query{Status: outbox.Sent, PerPage: 50}, id(5, 2, 1), 3},
		{"sent, page 2 of 2", mail.Query{Status: outbox.Sent, Page: 1, PerPage: 2}, id(1), 3},
		{"sending", mail.Query{Status: outbox.Sending, PerPage: 50}, id(6, 0), 2},
		{"dead", mail.Query{Status: outbox.Dead, PerPage: 50}, id(3), 1},
		{"failed", mail.Query{Status: outbox.Failed, PerPage: 50}, id(4), 1},
		{"queued", mail.Query{Status: outbox.Queued, PerPage: 50}, id(), 0},
		{"to, any case", mail.Query{To: "ada@EXAMPLE.com", PerPage: 50}, id(4, 2, 0), 3},
		{"to and status", mail.Query{To: "bob@example.com", Status: outbox.Sent, PerPage: 50}, id(5, 1), 2},
		{"to nobody", mail.Query{To: "zed@example.com", PerPage: 50}, id(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := f.db.Mails(f.ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) || total != tc.total {
				t.Errorf("Mails(%+v) = %v, total %d; want %v, total %d", tc.q, ids(got), total, tc.want, tc.total)
			}
		})
	}
}

// claimCapped claims under rate and returns the ids it got, sorted, and the window.
func (f *fixture) claimCapped(now time.Time, limit int, rate mail.Rate) ([]string, mail.RateWindow) {
	f.t.Helper()
	mails, win, err := f.db.ClaimMailsCapped(f.ctx, now, time.Hour, limit, rate)
	if err != nil {
		f.t.Fatalf("ClaimMailsCapped at %s: %v", now.Format(time.RFC3339Nano), err)
	}
	if len(mails) > limit {
		f.t.Fatalf("ClaimMailsCapped claimed %d mails with a limit of %d", len(mails), limit)
	}
	return mailIDs(mails), win
}

// wantWindow checks the window a capped claim reported.
func wantWindow(t *testing.T, what string, got mail.RateWindow, start time.Time, claimed int) {
	t.Helper()
	if !got.Start.Equal(start) || got.Claimed != claimed {
		t.Errorf("%s: window %+v; want opened at %v with %d claimed", what, got, start, claimed)
	}
}

func (f *fixture) due(now time.Time) int {
	f.t.Helper()
	n, err := f.db.DueMails(f.ctx, now)
	if err != nil {
		f.t.Fatalf("DueMails: %v", err)
	}
	return n
}

// testRateCapsAWindow: a window gives out the cap and no more; the mails
// held back stay queued and untouched until the next window.
func testRateCapsAWindow(t *testing.T, f *fixture) {
	rate := mail.Rate{Max: 3, Window: time.Minute}
	for i := range 10 {
		f.enqueue(i, fmt.Sprintf("p%d@example.com", i), at(i))
	}
	first, win := f.claimCapped(at(1000), 10, rate)
	if want := []string{"mail_0000", "mail_0001", "mail_0002"}; !slices.Equal(first, want) {
		t.Fatalf("first capped claim = %v; want the 3 oldest %v", first, want)
	}
	wantWindow(t, "first claim", win, at(1000), 3)
	if n := f.due(at(1000)); n != 7 {
		t.Errorf("DueMails = %d; want the 7 held back", n)
	}
	for _, now := range []time.Time{at(1000), at(30_000), at(60_999)} {
		ids, win := f.claimCapped(now, 10, rate)
		if len(ids) != 0 {
			t.Fatalf("claim at +%v in the used-up window = %v; want nothing", now.Sub(at(1000)), ids)
		}
		wantWindow(t, "claim in the used-up window", win, at(1000), 3)
	}
	for i := 3; i < 10; i++ {
		if m := f.mail(fmt.Sprintf("mail_%04d", i)); m.Status != outbox.Queued || m.Attempts != 0 || !m.NextAttempt.Equal(at(i)) {
			t.Errorf("held mail %s: status %s, attempts %d, next %v; want queued and untouched", m.ID, m.Status, m.Attempts, m.NextAttempt)
		}
		if attempts, _ := f.db.MailAttempts(f.ctx, fmt.Sprintf("mail_%04d", i)); len(attempts) != 0 {
			t.Errorf("held mail mail_%04d has attempts %+v", i, attempts)
		}
	}
	// A window later the next 3 go, in a window of their own.
	next, win := f.claimCapped(at(61_000), 10, rate)
	if want := []string{"mail_0003", "mail_0004", "mail_0005"}; !slices.Equal(next, want) {
		t.Errorf("claim in the next window = %v; want %v", next, want)
	}
	wantWindow(t, "next window", win, at(61_000), 3)
}

// testRateBatchLimit: a batch smaller than the room left takes its limit;
// the last batch of a window takes only the room left.
func testRateBatchLimit(t *testing.T, f *fixture) {
	rate := mail.Rate{Max: 5, Window: time.Minute}
	for i := range 10 {
		f.enqueue(i, "x@example.com", at(i))
	}
	for _, want := range []int{2, 2, 1, 0} {
		ids, _ := f.claimCapped(at(100), 2, rate)
		if len(ids) != want {
			t.Errorf("claimed %d with a batch of 2 under a cap of 5; want %d", len(ids), want)
		}
	}
	if _, win := f.claimCapped(at(200), 2, rate); win.Claimed != 5 {
		t.Errorf("window claimed %d; want 5", win.Claimed)
	}
}

// testRateWindowOpensWithMail: a claim that finds nothing opens no window;
// the window opens with the first claim that gets mail.
func testRateWindowOpensWithMail(t *testing.T, f *fixture) {
	rate := mail.Rate{Max: 1, Window: time.Minute}
	if ids, win := f.claimCapped(at(0), 10, rate); len(ids) != 0 || win.Claimed != 0 {
		t.Fatalf("claim of an empty outbox = %v, %+v", ids, win)
	}
	f.enqueue(1, "a@example.com", at(10_000))
	f.enqueue(2, "b@example.com", at(10_000))
	if ids, win := f.claimCapped(at(30_000), 10, rate); len(ids) != 1 {
		t.Fatalf("claim = %v; want one mail", ids)
	} else {
		wantWindow(t, "the window opened by the first mail", win, at(30_000), 1)
	}
	if ids, _ := f.claimCapped(at(89_999), 10, rate); len(ids) != 0 {
		t.Errorf("claim a millisecond before the window ends = %v; want nothing", ids)
	}
	if ids, win := f.claimCapped(at(90_000), 10, rate); len(ids) != 1 {
		t.Errorf("claim as the window ends = %v; want the other mail", ids)
	} else {
		wantWindow(t, "the next window", win, at(90_000), 1)
	}
}

// testRateLaggingClock: an instance whose clock is behind the one that
// opened the window counts its claims in that window.
func testRateLaggingClock(t *testing.T, f *fixture) {
	rate := mail.Rate{Max: 2, Window: time.Minute}
	for i := range 4 {
		f.enqueue(i, "x@example.com", at(0))
	}
	f.claimCapped(at(60_000), 1, rate)
	ids, win := f.claimCapped(at(59_000), 10, rate)
	if len(ids) != 1 {
		t.Errorf("a lagging claim got %v; want the one mail left in the window", ids)
	}
	wantWindow(t, "lagging claim", win, at(60_000), 2)
	if ids, _ := f.claimCapped(at(59_500), 10, rate); len(ids) != 0 {
		t.Errorf("a lagging claim in the used-up window got %v", ids)
	}
}

// testRateConcurrentClaims has several claimers race under one cap; on
// PostgreSQL each runs on its own connection, as instances do. Together
// they claim exactly the cap in a window, each mail once.
func testRateConcurrentClaims(t *testing.T, f *fixture) {
	const mails, claimers, batch, limit = 300, 8, 7, 37
	rate := mail.Rate{Max: limit, Window: time.Minute}
	for i := range mails {
		f.enqueue(i, fmt.Sprintf("p%d@example.com", i), at(i%10))
	}
	for window, now := range []time.Time{at(1000), at(61_000)} {
		got := make([][]string, claimers)
		errs := make([]error, claimers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for c := range claimers {
			wg.Go(func() {
				<-start
				for range 10 {
					ms, win, err := f.db.ClaimMailsCapped(f.ctx, now, time.Hour, batch, rate)
					if err == nil && (len(ms) > batch || win.Claimed > limit) {
						err = fmt.Errorf("claimed %d with a batch of %d; window %+v over the cap of %d", len(ms), batch, win, limit)
					}
					if err != nil {
						errs[c] = err
						return
					}
					got[c] = append(got[c], mailIDs(ms)...)
				}
			})
		}
		close(start)
		wg.Wait()
		owner := map[string]int{}
		for c, ids := range got {
			if errs[c] != nil {
				t.Errorf("window %d, claimer %d: %v", window, c, errs[c])
			}
			for _, id := range ids {
				if prev, dup := owner[id]; dup {
					t.Errorf("%s was claimed by claimers %d and %d", id, prev, c)
				}
				owner[id] = c
			}
		}
		if len(owner) != limit {
			t.Errorf("window %d: %d mails claimed by %d claimers together; want the cap, %d", window, len(owner), claimers, limit)
		}
	}
	if n := f.due(at(61_000)); n != mails-2*limit {
		t.Errorf("DueMails after two windows = %d; want %d", n, mails-2*limit)
	}
}

func testRateInvalid(t *testing.T, f *fixture) {
	f.enqueue(1, "a@example.com", at(0))
	for _, rate := range []mail.Rate{{Max: 5}, {Max: 0, Window: time.Minute}, {Max: -1, Window: time.Minute}} {
		if ms, _, err := f.db.ClaimMailsCapped(f.ctx, at(1), time.Hour, 10, rate); err == nil {
			t.Errorf("ClaimMailsCapped with %+v = %d mails, no error; want an error", rate, len(ms))
		}
	}
	if got := f.mail("mail_0001"); got.Status != outbox.Queued {
		t.Errorf("an invalid cap changed the mail to %s", got.Status)
	}
}

// linkedMail is newMail carrying a link with a ticket token of the real
// shape (43 characters of base64url), as Usher writes it.
func linkedMail(n int, to string, created time.Time) (outbox.Mail, string) {
	token := fmt.Sprintf("tok%04d", n) + strings.Repeat("x_-Z", 9)
	m := newMail(n, to, created)
	link := "https://id.example.com/lo/reset?ticket=" + token + "#type=invite"
	m.HTML = `<p>Hello, <a href="` + link + `">choose a password</a></p>`
	m.Text = "Hello, choose a password: " + link
	return m, token
}

// wantNoToken fails when a stored mail still holds token anywhere.
func wantNoToken(t *testing.T, what string, m outbox.Mail, token string) {
	t.Helper()
	if strings.Contains(fmt.Sprintf("%+v", m), token) {
		t.Errorf("%s still holds its link's token: %+v", what, m)
	}
}

// testOutboxTicketWhilePending: a mail's ticket is stored apart from its
// texts, comes back with every claim (a retry after a failure carries the
// link), and is gone once the mail is sent or dead, whichever way the
// attempt is recorded.
func testOutboxTicketWhilePending(t *testing.T, f *fixture) {
	var mails []outbox.Mail
	var tokens []string
	for i := range 5 {
		m, token := linkedMail(i, fmt.Sprintf("p%d@example.com", i), at(0))
		m = mail.HideTicket(m, token)
		if m.Ticket != token || strings.Contains(m.HTML+m.Text, token) || !strings.Contains(m.HTML, mail.HiddenTicket) {
			t.Fatalf("HideTicket: %+v", m)
		}
		if err := f.db.EnqueueMail(f.ctx, m); err != nil {
			t.Fatal(err)
		}
		mails, tokens = append(mails, m), append(tokens, token)
	}
	// Mails written with a bulk insert keep theirs too.
	bulk, bulkToken := linkedMail(9, "bulk@example.com", at(0))
	bulk = mail.HideTicket(bulk, bulkToken)
	if err := f.db.Atomic(f.ctx, func(st identity.Store) error {
		return st.(imports.Tx).InsertBulk(f.ctx, identity.BulkInsert{Mails: []outbox.Mail{bulk}})
	}); err != nil {
		t.Fatal(err)
	}
	if got := f.mail(bulk.ID); got.Ticket != bulkToken || got.HTML != bulk.HTML {
		t.Errorf("a bulk-inserted mail: ticket %q, html %q; want %q, %q", got.Ticket, got.HTML, bulkToken, bulk.HTML)
	}
	for i, m := range mails {
		got := f.mail(m.ID)
		if got.Ticket != tokens[i] || got.HTML != m.HTML || got.Text != m.Text {
			t.Fatalf("stored mail %s: ticket %q; want %q, and the texts as given", m.ID, got.Ticket, tokens[i])
		}
	}
	claimed, err := f.db.ClaimMails(f.ctx, at(0), time.Minute, 10)
	if err != nil || len(claimed) != 6 {
		t.Fatalf("ClaimMails: %d mails, %v", len(claimed), err)
	}
	for _, c := range claimed {
		if c.Ticket == "" || !strings.Contains(mail.WithTicket(c).HTML, c.Ticket) {
			t.Errorf("claimed mail %s comes without its ticket: %+v", c.ID, c)
		}
	}

	// A temporary failure keeps the ticket, and the next claim has it.
	f.record(mails[0].ID, at(1), outbox.Failed, "451 later", at(2))
	if got := f.mail(mails[0].ID); got.Ticket != tokens[0] {
		t.Fatalf("after a temporary failure the ticket is %q; want it kept", got.Ticket)
	}
	again, err := f.db.ClaimMails(f.ctx, at(2), time.Minute, 10)
	if err != nil || len(again) != 1 || again[0].Ticket != tokens[0] {
		t.Fatalf("the retry's claim: %+v, %v; want mail 0 with its ticket", again, err)
	}
	// Sent, or dead: one by one, and in a batch.
	f.record(mails[0].ID, at(3), outbox.Sent, "250 ok", time.Time{})
	f.record(mails[1].ID, at(3), outbox.Dead, "550 no", time.Time{})
	if err := f.db.RecordAttempts(f.ctx, []mail.AttemptRecord{
		{ID: mails[2].ID, Claim: f.mail(mails[2].ID).Claim, At: at(4), Status: outbox.Sent, Reply: "250 ok"},
		{ID: mails[3].ID, Claim: f.mail(mails[3].ID).Claim, At: at(4), Status: outbox.Dead, Reply: "550 no"},
		{ID: mails[4].ID, Claim: f.mail(mails[4].ID).Claim, At: at(4), Status: outbox.Failed, Reply: "451 later", Next: at(5)},
	}); err != nil {
		t.Fatal(err)
	}
	for i, m := range mails[:4] {
		got := f.mail(m.ID)
		wantNoToken(t, "a "+got.Status+" mail", got, tokens[i])
		if got.HTML != m.HTML || !mail.HidesLink(got) {
			t.Errorf("a %s mail's texts changed: %q", got.Status, got.HTML)
		}
	}
	if got := f.mail(mails[4].ID); got.Ticket != tokens[4] {
		t.Errorf("a mail failed in a batch lost its ticket")
	}
}

// testOutboxRetryWithoutLink: a dead mail whose link was dropped is not
// queued again (it would carry a dead link); a dead mail that never had
// a link, and a failed one, are.
func testOutboxRetryWithoutLink(t *testing.T, f *fixture) {
	linked, token := linkedMail(1, "a@example.com", at(0))
	linked = mail.HideTicket(linked, token)
	plain := newMail(2, "b@example.com", at(0))
	plain.HTML, plain.Text = "<p>Welcome</p>", "Welcome"
	failed, failedToken := linkedMail(3, "c@example.com", at(0))
	failed = mail.HideTicket(failed, failedToken)
	for _, m := range []outbox.Mail{linked, plain, failed} {
		if err := f.db.EnqueueMail(f.ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	f.claim(at(0), time.Minute, 10)
	f.record(linked.ID, at(1), outbox.Dead, "550 no", time.Time{})
	f.record(plain.ID, at(1), outbox.Dead, "550 no", time.Time{})
	f.record(failed.ID, at(1), outbox.Failed, "451 later", at(100))

	wantIs(t, "RetryMail of a dead mail whose link is gone", f.db.RetryMail(f.ctx, linked.ID, at(2)), errs.ErrNotFound)
	if got := f.mail(linked.ID); got.Status != outbox.Dead {
		t.Errorf("the dead mail without its link is %s; want dead", got.Status)
	}
	for _, m := range []outbox.Mail{plain, failed} {
		if err := f.db.RetryMail(f.ctx, m.ID, at(2)); err != nil {
			t.Errorf("RetryMail of %s: %v", m.ID, err)
		}
	}
	if got := f.mail(failed.ID); got.Status != outbox.Queued || got.Ticket != failedToken {
		t.Errorf("the retried failed mail: %s, ticket %q; want queued with its ticket", got.Status, got.Ticket)
	}
}

// testOutboxOldMailsLoseTickets: mails written before tickets were kept
// apart carry them in their texts. The start after the migration moves
// each out: kept apart while the mail is pending, dropped when it was sent
// or given up. It runs while the migration's settings row asks for it.
func testOutboxOldMailsLoseTickets(t *testing.T, f *fixture) {
	type old struct {
		m      outbox.Mail
		token  string
		status string
	}
	var olds []old
	for i, status := range []string{outbox.Queued, outbox.Sending, outbox.Failed, outbox.Sent, outbox.Dead} {
		m, token := linkedMail(i, fmt.Sprintf("o%d@example.com", i), at(0))
		if status == outbox.Failed { // as {{ url | url_encode }} writes it
			m.HTML = strings.ReplaceAll(m.HTML, "https://id.example.com/lo/reset?ticket=", "https%3A%2F%2Fid.example.com%2Flo%2Freset%3Fticket%3D")
		}
		if err := f.db.EnqueueMail(f.ctx, m); err != nil {
			t.Fatal(err)
		}
		olds = append(olds, old{m, token, status})
	}
	plain := newMail(9, "plain@example.com", at(0))
	plain.HTML, plain.Text = "<p>Your ticket=short is not a link token.</p>", "Your ticket=short is not a link token."
	if err := f.db.EnqueueMail(f.ctx, plain); err != nil {
		t.Fatal(err)
	}
	f.claim(at(0), time.Minute, 10)
	for _, o := range olds {
		switch o.status {
		case outbox.Queued:
			f.record(o.m.ID, at(1), outbox.Failed, "451", at(1))
			if err := f.db.RetryMail(f.ctx, o.m.ID, at(1)); err != nil {
				t.Fatal(err)
			}
		case outbox.Failed:
			f.record(o.m.ID, at(1), outbox.Failed, "451", at(100))
		case outbox.Sent, outbox.Dead:
			f.record(o.m.ID, at(1), o.status, "250/550", time.Time{})
		}
	}
	if err := f.db.PutSetting(f.ctx, "outbox_tickets_to_hide", "pending"); err != nil { // as migration 00009 leaves it
		t.Fatal(err)
	}
	if err := f.db.Migrate(f.ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for _, o := range olds {
		got := f.mail(o.m.ID)
		if got.Status != o.status {
			t.Fatalf("mail %s is %s; want %s", o.m.ID, got.Status, o.status)
		}
		switch o.status {
		case outbox.Sent, outbox.Dead:
			wantNoToken(t, "an old "+o.status+" mail", got, o.token)
			if !mail.HidesLink(got) {
				t.Errorf("an old %s mail does not say its link is hidden: %q", o.status, got.HTML)
			}
		default:
			if got.Ticket != o.token || strings.Contains(got.HTML+got.Text, o.token) {
				t.Errorf("an old %s mail: ticket %q, html %q; want the token apart", o.status, got.Ticket, got.HTML)
			}
			if sent := mail.WithTicket(got); sent.HTML != o.m.HTML || sent.Text != o.m.Text {
				t.Errorf("an old %s mail would be sent as %q; want %q", o.status, sent.HTML, o.m.HTML)
			}
		}
	}
	if got := f.mail(plain.ID); got.HTML != plain.HTML || got.Text != plain.Text || got.Ticket != "" {
		t.Errorf("a mail without a link changed: %+v", got)
	}
	if _, err := f.db.Setting(f.ctx, "outbox_tickets_to_hide"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("the settings row asking for the move is still there: %v", err)
	}
}

// testOutboxClaimFencing: a worker whose lease lapsed while another worker
// claimed the mail again cannot record its attempt over the other's: the
// attempt is refused as a lost claim and changes nothing, and the new
// claim's attempt is recorded.
func testOutboxClaimFencing(t *testing.T, f *fixture) {
	m := f.enqueue(1, "fenced@example.com", at(0))
	first, err := f.db.ClaimMails(f.ctx, at(0), time.Minute, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("first claim: %+v, %v", first, err)
	}
	second, err := f.db.ClaimMails(f.ctx, at(61_000), time.Minute, 10) // the first lease lapsed
	if err != nil || len(second) != 1 || second[0].Claim == first[0].Claim {
		t.Fatalf("second claim: %+v, %v; want the mail under a new claim", second, err)
	}
	late := mail.AttemptRecord{ID: m.ID, Claim: first[0].Claim, At: at(62_000), Status: outbox.Dead, Reply: "550 from the late worker"}
	if err := f.db.RecordAttempts(f.ctx, []mail.AttemptRecord{late}); !errors.Is(err, errs.ErrLeaseLost) {
		t.Fatalf("the lapsed claim's attempt: %v; want ErrLeaseLost", err)
	}
	if got := f.mail(m.ID); got.Status != outbox.Sending || got.Attempts != 0 {
		t.Fatalf("after the lapsed claim's attempt: status %s, %d attempts; want it untouched", got.Status, got.Attempts)
	}
	current := mail.AttemptRecord{ID: m.ID, Claim: second[0].Claim, At: at(62_000), Status: outbox.Sent, Reply: "250 ok"}
	if err := f.db.RecordAttempts(f.ctx, []mail.AttemptRecord{current}); err != nil {
		t.Fatal(err)
	}
	if got := f.mail(m.ID); got.Status != outbox.Sent || got.Attempts != 1 {
		t.Fatalf("after the current claim's attempt: status %s, %d attempts", got.Status, got.Attempts)
	}
}

// testOutboxBacklog checks what /metrics reads of the outbox: the mails in
// each status, up to a bound, and how long the oldest due mail has waited.
func testOutboxBacklog(t *testing.T, f *fixture) {
	if b, err := f.db.OutboxBacklog(f.ctx, at(1000), 100); err != nil || b != (store.Backlog{}) {
		t.Fatalf("an empty outbox's backlog = %+v, %v", b, err)
	}
	for i, created := range []int{1000, 2000, 3000, 4000, 4500} {
		f.enqueue(i+1, fmt.Sprintf("p%d@example.com", i+1), at(created))
	}
	if b, err := f.db.OutboxBacklog(f.ctx, at(2500), 100); err != nil || b.Queued != 5 || !b.OldestDue.Equal(ms(at(1000))) {
		t.Fatalf("five queued mails' backlog = %+v, %v; want the first queued due the longest", b, err)
	}
	if got := f.claim(at(5000), time.Minute, 3); !slices.Equal(got, []string{"mail_0001", "mail_0002", "mail_0003"}) {
		t.Fatalf("claimed %v", got)
	}
	f.record("mail_0001", at(5000), outbox.Sent, "250 ok", time.Time{})
	f.record("mail_0002", at(5000), outbox.Failed, "451 later", at(3500)) // due again at once
	f.record("mail_0003", at(5000), outbox.Dead, "550 no", time.Time{})
	f.enqueue(6, "p6@example.com", at(9000)) // queued in the future of 5000: not due yet
	if got := f.claim(at(5000), time.Minute, 1); !slices.Equal(got, []string{"mail_0002"}) {
		t.Fatalf("the second claim took %v, want the failed mail due the longest", got)
	}
	f.record("mail_0002", at(5000), outbox.Failed, "451 later", at(3900))

	for _, tc := range []struct {
		name string
		now  int
		max  int
		want store.Backlog
	}{
		{"the failed mail is due the longest", 5000, 100, store.Backlog{Queued: 3, Failed: 1, Dead: 1, OldestDue: at(3900)}},
		{"counts stop at the bound", 5000, 2, store.Backlog{Queued: 2, Failed: 1, Dead: 1, OldestDue: at(3900)}},
		{"before any is due", 3000, 100, store.Backlog{Queued: 3, Failed: 1, Dead: 1}},
		{"only the failed mail due", 3950, 100, store.Backlog{Queued: 3, Failed: 1, Dead: 1, OldestDue: at(3900)}},
	} {
		b, err := f.db.OutboxBacklog(f.ctx, at(tc.now), tc.max)
		b.OldestDue = ms(b.OldestDue)
		if tc.want.OldestDue = ms(tc.want.OldestDue); err != nil || b != tc.want {
			t.Errorf("%s: backlog = %+v, %v; want %+v", tc.name, b, err, tc.want)
		}
	}
	if got := f.claim(at(5000), time.Minute, 1); len(got) != 1 {
		t.Fatalf("claimed %v", got)
	}
	if b, err := f.db.OutboxBacklog(f.ctx, at(5000), 100); err != nil || b.Sending != 1 || b.Queued+b.Failed != 3 {
		t.Errorf("with a mail claimed: %+v, %v", b, err)
	}
}
