package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
)

// testRevokeLogins: sessions keep the password stamp they were given (or
// none), and RevokeLogins removes one user's sessions, codes and refresh
// tokens, inside a transaction, and nobody else's.
func testRevokeLogins(t *testing.T, f *fixture) {
	c := f.conn("db", at(0))
	alice := f.user(c, "alice@example.com", at(1), nil)
	bob := f.user(c, "bob@example.com", at(2), nil)
	cl := f.client("client1", at(3))
	stamp := int64(1_700_000_000_123)
	sessions := []oauth.Session{
		{ID: "alice-stamped", UserID: alice.ID, CreatedAt: at(10), ExpiresAt: at(1000), PasswordStamp: &stamp},
		{ID: "alice-old", UserID: alice.ID, CreatedAt: at(11), ExpiresAt: at(1000)},
		{ID: "bob", UserID: bob.ID, CreatedAt: at(12), ExpiresAt: at(1000)},
	}
	for _, s := range sessions {
		if err := f.db.CreateSession(f.ctx, s); err != nil {
			t.Fatalf("CreateSession(%s): %v", s.ID, err)
		}
		got, err := f.db.Session(f.ctx, s.ID)
		s.CreatedAt, s.ExpiresAt = ms(s.CreatedAt), ms(s.ExpiresAt)
		got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Fatalf("Session(%s) = %+v, %v; want %+v", s.ID, got, err, s)
		}
	}
	grants := []oauth.Grant{
		{ID: "alice-code", Kind: oauth.GrantCode, UserID: alice.ID},
		{ID: "alice-refresh", Kind: oauth.GrantRefresh, UserID: alice.ID, Details: oauth.GrantDetails{PasswordStamp: &stamp}},
		{ID: "bob-refresh", Kind: oauth.GrantRefresh, UserID: bob.ID},
	}
	for _, g := range grants {
		g.ClientID, g.CreatedAt, g.ExpiresAt = cl.ClientID, at(20), at(1000)
		if err := f.db.CreateGrant(f.ctx, g); err != nil {
			t.Fatalf("CreateGrant(%s): %v", g.ID, err)
		}
	}
	if got, err := f.db.Grant(f.ctx, "alice-refresh"); err != nil || got.Details.PasswordStamp == nil || *got.Details.PasswordStamp != stamp {
		t.Fatalf("the refresh token's stamp: %+v, %v", got.Details, err)
	}

	if err := f.db.Atomic(f.ctx, func(st identity.Store) error { return st.RevokeLogins(f.ctx, alice.ID) }); err != nil {
		t.Fatalf("RevokeLogins: %v", err)
	}
	for _, id := range []string{"alice-stamped", "alice-old"} {
		if _, err := f.db.Session(f.ctx, id); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("session %s after RevokeLogins: %v", id, err)
		}
	}
	for _, id := range []string{"alice-code", "alice-refresh"} {
		if _, err := f.db.Grant(f.ctx, id); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("grant %s after RevokeLogins: %v", id, err)
		}
	}
	if _, err := f.db.Session(f.ctx, "bob"); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	if _, err := f.db.Grant(f.ctx, "bob-refresh"); err != nil {
		t.Errorf("another user's refresh token: %v", err)
	}
	if err := f.db.RevokeLogins(f.ctx, "auth0|nobody"); err != nil {
		t.Errorf("RevokeLogins of nobody: %v", err)
	}
}

// testRotateGrant: of eight instances rotating one refresh token at once,
// one succeeds and stores its successor; the others store nothing, and a
// line is revoked whole.
func testRotateGrant(t *testing.T, f *fixture) {
	alice := f.user(f.conn("db", at(0)), "alice@example.com", at(1), nil)
	cl := f.client("client1", at(3))
	first := oauth.Grant{ID: "rt-1", Kind: oauth.GrantRefresh, ClientID: cl.ClientID, UserID: alice.ID, CreatedAt: at(10), ExpiresAt: at(1000), Family: "rt-1"}
	if err := f.db.CreateGrant(f.ctx, first); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	won := make(chan string, 8)
	for i := range 8 {
		next := first
		next.ID, next.CreatedAt = fmt.Sprintf("rt-2-%d", i), at(20)
		wg.Go(func() {
			if err := f.db.RotateGrant(f.ctx, first.ID, at(20), next); err == nil {
				won <- next.ID
			} else if !errors.Is(err, errs.ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(won)
	winners := chanList(won)
	if len(winners) != 1 {
		t.Fatalf("%d rotations of one token succeeded: %v", len(winners), winners)
	}
	for i := range 8 {
		id := fmt.Sprintf("rt-2-%d", i)
		if _, err := f.db.Grant(f.ctx, id); (err == nil) != (id == winners[0]) {
			t.Errorf("successor %s: %v", id, err)
		}
	}
	if got, err := f.db.Grant(f.ctx, first.ID); err != nil || got.UsedAt.IsZero() || got.Family != "rt-1" {
		t.Fatalf("the rotated token: %+v %v", got, err)
	}
	if err := f.db.DeleteGrantFamily(f.ctx, "rt-1"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{first.ID, winners[0]} {
		if _, err := f.db.Grant(f.ctx, id); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("%s after the line was revoked: %v", id, err)
		}
	}
}
