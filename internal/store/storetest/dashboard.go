package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
)

func testPermissions(t *testing.T, f *fixture) {
	c := f.conn("Perms", at(0))
	ada, bob := f.user(c, "ada@example.com", at(0), nil), f.user(c, "bob@example.com", at(0), nil)
	admin := identity.Permission{ResourceServerIdentifier: "https://id.example.com/api/v2/", PermissionName: "usher:admin"}
	other := identity.Permission{ResourceServerIdentifier: "https://id.example.com/api/v2/", PermissionName: "read:things"}
	has := func(u identity.User, p identity.Permission) bool {
		t.Helper()
		ok, err := f.db.HasUserPermission(f.ctx, u.ID, p)
		if err != nil {
			t.Fatalf("HasUserPermission: %v", err)
		}
		return ok
	}
	if has(ada, admin) {
		t.Fatal("a new user holds a permission")
	}
	if got, err := f.db.UserPermissions(f.ctx, ada.ID); err != nil || len(got) != 0 {
		t.Fatalf("UserPermissions of a new user: %v, %v", got, err)
	}
	// Granting twice is granting once.
	for range 2 {
		if err := f.db.AddUserPermissions(f.ctx, ada.ID, []identity.Permission{admin, other}, at(1)); err != nil {
			t.Fatalf("AddUserPermissions: %v", err)
		}
	}
	got, err := f.db.UserPermissions(f.ctx, ada.ID)
	if want := []identity.Permission{other, admin}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("UserPermissions: %v, %v; want %v", got, err, want)
	}
	if !has(ada, admin) || has(bob, admin) {
		t.Fatal("HasUserPermission: wrong answer")
	}
	// Inside a transaction too (the dashboard checks there).
	err = f.db.Atomic(f.ctx, func(st identity.Store) error {
		ok, err := st.HasUserPermission(f.ctx, ada.ID, admin)
		if !ok {
			t.Error("HasUserPermission in a transaction: false")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.RemoveUserPermissions(f.ctx, ada.ID, []identity.Permission{other, other}); err != nil {
		t.Fatalf("RemoveUserPermissions: %v", err)
	}
	if has(ada, other) || !has(ada, admin) {
		t.Fatal("RemoveUserPermissions removed the wrong permission")
	}
	// Deleting the user deletes their permissions.
	if err := f.db.DeleteUser(f.ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if has(ada, admin) {
		t.Fatal("a deleted user still holds a permission")
	}
}

func testInvitationStats(t *testing.T, f *fixture) {
	c := f.conn("Stats", at(0))
	day := func(n int, h int) time.Time { return time.Date(2024, 5, 1+n, h, 0, 0, 0, time.UTC) }
	now := day(9, 12)
	n := 0
	invite := func(created, expires, accepted, revoked time.Time) {
		t.Helper()
		n++
		u := f.user(c, "p"+string(rune('a'+n))+"@example.com", created, nil)
		inv := identity.Invitation{ID: "inv_" + u.ID, UserID: u.ID, Email: u.Email, ConnectionID: c.ID, TTL: expires.Sub(created),
			TicketID: "ticket-" + u.ID, CreatedAt: created, ExpiresAt: expires}
		if err := f.db.CreateInvitation(f.ctx, inv); err != nil {
			t.Fatal(err)
		}
		if !accepted.IsZero() {
			if _, err := f.db.AcceptInvitation(f.ctx, inv.TicketID, accepted); err != nil {
				t.Fatal(err)
			}
		}
		if !revoked.IsZero() {
			inv.RevokedAt = revoked
			if err := f.db.UpdateInvitation(f.ctx, inv); err != nil {
				t.Fatal(err)
			}
		}
	}
	var none time.Time
	invite(day(0, 10), day(2, 10), none, none)                  // before the period: expired on day 2
	invite(day(3, 1), day(5, 1), day(4, 23), none)              // accepted on day 4
	invite(day(3, 2), day(5, 2), none, none)                    // expired on day 5
	invite(day(3, 23), day(5, 23), none, day(4, 0))             // revoked: never counts as expired
	invite(day(8, 9), day(10, 9), none, none)                   // still pending
	invite(day(9, 11), day(9, 11).Add(time.Minute), none, none) // expired a minute later, today
	invite(day(9, 11), day(9, 13), none, none)                  // expires later today: not yet

	st, err := f.db.InvitationStats(f.ctx, day(2, 0), now)
	if err != nil {
		t.Fatalf("InvitationStats: %v", err)
	}
	if len(st.Days) != 8 || !st.Days[0].Day.Equal(day(2, 0)) || !st.Days[7].Day.Equal(day(9, 0)) {
		t.Fatalf("InvitationStats gives %d days from %v", len(st.Days), st.Days)
	}
	want := map[int]identity.InvitationDay{
		2: {Expired: 1}, 3: {Sent: 3}, 4: {Accepted: 1}, 5: {Expired: 1}, 8: {Sent: 1}, 9: {Sent: 2, Expired: 1},
	}
	for i, d := range st.Days {
		w := want[i+2]
		w.Day = day(i+2, 0)
		if d != w {
			t.Errorf("day %d: got %+v, want %+v", i+2, d, w)
		}
	}
	if st.Sent != 6 || st.SentAccepted != 1 {
		t.Errorf("Sent %d, SentAccepted %d; want 6 and 1", st.Sent, st.SentAccepted)
	}
}
