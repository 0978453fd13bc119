package oauth_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/store/storetest"
)

const (
	connection = "Username-Password-Authentication"
	callback   = "https://app.example.com/callback"
)

// tenant is a migrated SQLite tenant with a web app allowed the code and
// refresh grants.
func tenant(t *testing.T) (*identity.Service, *oauth.Server, identity.Client, string) {
	t.Helper()
	return tenantAt(t, nil)
}

// tenantAt is tenant with its identity service and token server telling
// the time with now (nil: the real time).
func tenantAt(t *testing.T, now func() time.Time) (*identity.Service, *oauth.Server, identity.Client, string) {
	t.Helper()
	ctx := t.Context()
	db := storetest.SQLite(t)
	ids := identity.NewService(db, identity.Options{PublicURL: "http://usher.test", Now: now})
	if _, err := ids.Bootstrap(ctx, identity.Bootstrap{}); err != nil {
		t.Fatal(err)
	}
	keys, err := oauth.NewKeys(ctx, db, "usher.test", now)
	if err != nil {
		t.Fatal(err)
	}
	srv := oauth.NewServer(oauth.Options{Identity: ids, Keys: keys, Store: db, Issuer: "http://usher.test/", Now: now})
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	client, secret, err := ids.CreateClient(ctx, identity.Patch{"name": raw("Web app"), "app_type": raw("regular_web"),
		"callbacks": raw([]string{callback}), "grant_types": raw([]string{"authorization_code", "refresh_token"})})
	if err != nil {
		t.Fatal(err)
	}
	return ids, srv, client, secret
}

// TestLoginUnderWayDuringPasswordChangeIsRefused: a login that checked the
// old password just before the password changed, and writes its session
// and code just after (when the change has already removed the user's
// logins), gets a session and a code that are refused; the next login
// with the new password works.
func TestLoginUnderWayDuringPasswordChangeIsRefused(t *testing.T) {
	ctx := t.Context()
	ids, srv, client, secret := tenant(t)
	u := ana(t, ids)
	who := identity.Requester{IP: "192.0.2.1"}
	ar := oauth.AuthorizeRequest{ResponseType: "code", ClientID: client.ClientID, RedirectURI: callback, Scope: "openid offline_access"}
	login := oauth.Login{ClientID: client.ClientID, ClientSecret: secret, RedirectURI: callback}

	// The login checks the old password...
	proved, err := srv.Authenticate(ctx, client, connection, u.Email, "Str0ng-Passw0rd!", who)
	if err != nil {
		t.Fatal(err)
	}
	// ...the password changes...
	if _, err := ids.UpdateUser(ctx, u.ID, identity.UserPatch{Password: identity.Opt[string]{Set: true, V: "An0ther-Passw0rd!"}}); err != nil {
		t.Fatal(err)
	}
	// ...and the login goes on to start its session and issue its code.
	cookie, err := srv.NewSession(ctx, proved, 0)
	if err != nil {
		t.Fatal(err)
	}
	code, err := codeOf(srv.BrowserLogin(ctx, client, proved, ar, who, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, live := srv.SessionUser(ctx, cookie); live {
		t.Error("a session for the old password logs in")
	}
	var oe *oauth.Error
	if _, err := srv.ExchangeCode(ctx, login, code, ""); !errors.As(err, &oe) || oe.Code != "invalid_grant" {
		t.Errorf("a code for the old password: %v", err)
	}

	fresh, err := srv.Authenticate(ctx, client, connection, u.Email, "An0ther-Passw0rd!", who)
	if err != nil {
		t.Fatal(err)
	}
	if cookie, err = srv.NewSession(ctx, fresh, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, live := srv.SessionUser(ctx, cookie); !live {
		t.Error("a session for the new password must log in")
	}
	code, err = codeOf(srv.BrowserLogin(ctx, client, fresh, ar, who, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := srv.ExchangeCode(ctx, login, code, "")
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("a code for the new password: %+v %v", tok, err)
	}
	if _, err := srv.Refresh(ctx, login, tok.RefreshToken); err != nil {
		t.Errorf("its refresh token: %v", err)
	}
}

// ana creates the user ana@example.com, whose password is Str0ng-Passw0rd!.
func ana(t *testing.T, ids *identity.Service) identity.User {
	t.Helper()
	no := false
	u, err := ids.CreateUser(t.Context(), identity.NewUser{Connection: connection, Email: "ana@example.com", Password: "Str0ng-Passw0rd!", VerifyEmail: &no})
	if err != nil {
		t.Fatal(err)
	}
	return u
}
