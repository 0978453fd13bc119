package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// testInvitationsByPerson covers how invitations are found by person and
// accepted: the source round trip, the open one, the newest of each, and
// acceptance giving back the invitation once.
func testInvitationsByPerson(t *testing.T, f *fixture) {
	c := f.conn("People", at(0))
	ada := f.user(c, "ada@example.com", at(0), nil)
	bob := f.user(c, "bob@example.com", at(0), nil)
	cyd := f.user(c, "cyd@example.com", at(0), nil)
	invite := func(id string, u identity.User, source string, created int) identity.Invitation {
		t.Helper()
		inv := identity.Invitation{ID: id, UserID: u.ID, Email: u.Email, ConnectionID: c.ID, TTL: time.Hour, TicketID: "ticket-" + id,
			Source: source, CreatedAt: at(created), ExpiresAt: at(created).Add(time.Hour)}
		if err := f.db.CreateInvitation(f.ctx, inv); err != nil {
			t.Fatalf("CreateInvitation %s: %v", id, err)
		}
		return inv
	}
	invite("inv_ada1", ada, identity.InvitationByUsher, 10)
	invite("inv_ada2", ada, identity.InvitationByPasswordChange, 20)
	bob1 := invite("inv_bob1", bob, "", 30)
	if err := f.db.AddInvitationEvents(f.ctx, bob1.ID, identity.InvitationEvent{At: at(30), Type: "created"}); err != nil {
		t.Fatal(err)
	}

	got, err := f.db.Invitation(f.ctx, "inv_ada2")
	if err != nil || got.Source != identity.InvitationByPasswordChange {
		t.Fatalf("Invitation inv_ada2: %+v %v", got, err)
	}
	if got, err := f.db.Invitation(f.ctx, bob1.ID); err != nil || got.Source != identity.InvitationByUsher {
		t.Fatalf("an invitation stored without a source is Usher's: %+v %v", got, err)
	}

	// The open invitation is the newest one neither accepted nor revoked,
	// expired or not.
	if open, err := f.db.OpenInvitation(f.ctx, ada.ID); err != nil || open.ID != "inv_ada2" {
		t.Fatalf("OpenInvitation ada: %+v %v", open, err)
	}
	if _, err := f.db.OpenInvitation(f.ctx, cyd.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("OpenInvitation of someone never invited: %v", err)
	}

	// Acceptance through the invitation's link returns it, once.
	accepted, err := f.db.AcceptInvitation(f.ctx, "ticket-inv_ada2", at(40))
	if err != nil || accepted.ID != "inv_ada2" || accepted.Source != identity.InvitationByPasswordChange || !accepted.AcceptedAt.Equal(at(40)) {
		t.Fatalf("AcceptInvitation: %+v %v", accepted, err)
	}
	if _, err := f.db.AcceptInvitation(f.ctx, "ticket-inv_ada2", at(50)); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("accepting twice: %v", err)
	}
	if _, err := f.db.AcceptInvitation(f.ctx, "ticket-of-a-reset", at(50)); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("accepting through a link no invitation has: %v", err)
	}
	inv, err := f.db.Invitation(f.ctx, "inv_ada2")
	if err != nil || inv.Status(at(50)) != identity.InvitationAccepted || len(inv.Events) != 1 || inv.Events[0].Type != "accepted" {
		t.Fatalf("after acceptance: %+v %v", inv, err)
	}
	// The older one is open still (nothing revoked it here).
	if open, err := f.db.OpenInvitation(f.ctx, ada.ID); err != nil || open.ID != "inv_ada1" {
		t.Fatalf("OpenInvitation ada after acceptance: %+v %v", open, err)
	}
	bob1.RevokedAt = at(60)
	if err := f.db.UpdateInvitation(f.ctx, bob1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.OpenInvitation(f.ctx, bob.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("OpenInvitation after revocation: %v", err)
	}

	latest, err := f.db.LatestInvitations(f.ctx, []string{ada.ID, bob.ID, cyd.ID, "auth0|nobody"})
	if err != nil || len(latest) != 2 || latest[ada.ID].ID != "inv_ada2" || latest[bob.ID].ID != "inv_bob1" {
		t.Fatalf("LatestInvitations: %+v %v", latest, err)
	}
	if latest, err := f.db.LatestInvitations(f.ctx, nil); err != nil || len(latest) != 0 {
		t.Fatalf("LatestInvitations of nobody: %+v %v", latest, err)
	}
}
