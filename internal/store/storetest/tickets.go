package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

func newTicket(id, kind, userID string, created time.Time, ttl time.Duration) identity.Ticket {
	return identity.Ticket{ID: id, Kind: kind, UserID: userID, ClientID: "client-1", ResultURL: "https://app.example.com/done",
		MarkEmailVerified: true, IncludeEmail: true, Purpose: identity.PurposeInvite, CreatedAt: created, ExpiresAt: created.Add(ttl)}
}

func testTickets(t *testing.T, f *fixture) {
	c := f.conn("Tickets", at(0))
	u := f.user(c, "t@example.com", at(0), nil)
	want := newTicket("hash-1", identity.TicketPasswordChange, u.ID, at(10), time.Hour)
	if err := f.db.CreateTicket(f.ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := f.db.Ticket(f.ctx, "hash-1")
	want.CreatedAt, want.ExpiresAt = ms(want.CreatedAt), ms(want.ExpiresAt)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Ticket: %+v, %v; want %+v", got, err, want)
	}
	if _, err := f.db.Ticket(f.ctx, "missing"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("missing ticket: %v", err)
	}

	// Used once, and only once; an expired ticket cannot be used.
	if err := f.db.UseTicket(f.ctx, "hash-1", at(20)); err != nil {
		t.Fatalf("UseTicket: %v", err)
	}
	if err := f.db.UseTicket(f.ctx, "hash-1", at(30)); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("second use: %v", err)
	}
	if got, _ := f.db.Ticket(f.ctx, "hash-1"); got.State(at(40)) != identity.TicketUsed || !got.UsedAt.Equal(at(20)) {
		t.Fatalf("after use: %+v", got)
	}
	f.db.CreateTicket(f.ctx, newTicket("hash-2", identity.TicketPasswordChange, u.ID, at(0), time.Second))
	if err := f.db.UseTicket(f.ctx, "hash-2", at(1000)); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("expired ticket used: %v", err)
	}

	// Revoking by kind leaves other kinds and other users alone.
	other := f.user(c, "o@example.com", at(0), nil)
	f.db.CreateTicket(f.ctx, newTicket("reset", identity.TicketPasswordChange, u.ID, at(0), time.Hour))
	f.db.CreateTicket(f.ctx, newTicket("verify", identity.TicketEmailVerification, u.ID, at(0), time.Hour))
	f.db.CreateTicket(f.ctx, newTicket("others", identity.TicketPasswordChange, other.ID, at(0), time.Hour))
	if err := f.db.RevokeTickets(f.ctx, u.ID, identity.TicketPasswordChange, at(50)); err != nil {
		t.Fatal(err)
	}
	for id, state := range map[string]identity.TicketState{"reset": identity.TicketRevoked, "verify": identity.TicketValid, "others": identity.TicketValid, "hash-1": identity.TicketUsed} {
		if got, _ := f.db.Ticket(f.ctx, id); got.State(at(60)) != state {
			t.Errorf("%s: %s, want %s", id, got.State(at(60)), state)
		}
	}
	if err := f.db.UseTicket(f.ctx, "reset", at(60)); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("revoked ticket used: %v", err)
	}
	f.db.RevokeTickets(f.ctx, u.ID, "", at(70))
	if got, _ := f.db.Ticket(f.ctx, "verify"); got.State(at(80)) != identity.TicketRevoked {
		t.Fatalf("revoking every kind left %+v", got)
	}

	// Deleting the user deletes their tickets.
	if err := f.db.DeleteUser(f.ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Ticket(f.ctx, "others"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("ticket outlived its user: %v", err)
	}
}

func testTicketUsedOnce(t *testing.T, f *fixture) {
	c := f.conn("Race", at(0))
	u := f.user(c, "r@example.com", at(0), nil)
	f.db.CreateTicket(f.ctx, newTicket("race", identity.TicketPasswordChange, u.ID, at(0), time.Hour))
	var wg sync.WaitGroup
	wins := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wins <- f.db.Atomic(f.ctx, func(st identity.Store) error { return st.UseTicket(f.ctx, "race", at(10)) })
		}()
	}
	wg.Wait()
	close(wins)
	ok := 0
	for err := range wins {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, errs.ErrNotFound):
			t.Fatalf("UseTicket race: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d callers used one ticket", ok)
	}
}

func testLogs(t *testing.T, f *fixture) {
	for i, typ := range []string{"scpr", "scp", "fcpr", "scpr"} {
		e := identity.LogEvent{ID: "log_" + string(rune('a'+i)), Date: at(i * 10), Type: typ, UserID: "auth0|" + typ,
			Description: "event", IP: "127.0.0.1", Details: map[string]any{"n": float64(i)}}
		if err := f.db.AddLog(f.ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, total, err := f.db.Logs(f.ctx, identity.LogQuery{Types: []string{"scpr"}, PerPage: 10, IncludeTotals: true})
	if err != nil || total != 2 || len(got) != 2 || got[0].ID != "log_d" || !got[0].Date.Equal(at(30)) || got[0].Details["n"] != float64(3) {
		t.Fatalf("scpr, newest first: %+v %d %v", got, total, err)
	}
	got, _, _ = f.db.Logs(f.ctx, identity.LogQuery{PerPage: 2, Page: 1, Ascending: true})
	if len(got) != 2 || got[0].ID != "log_c" || got[1].ID != "log_d" {
		t.Fatalf("second ascending page: %+v", got)
	}
	got, _, _ = f.db.Logs(f.ctx, identity.LogQuery{UserID: "auth0|scp", PerPage: 10})
	if len(got) != 1 || got[0].Type != "scp" {
		t.Fatalf("by user: %+v", got)
	}
	got, _, _ = f.db.Logs(f.ctx, identity.LogQuery{From: at(10), To: at(20), PerPage: 10})
	if len(got) != 2 {
		t.Fatalf("by date: %+v", got)
	}
}
