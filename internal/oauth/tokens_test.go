package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/oauth"
)

// verifiedClaims checks a token's signature against the server's published
// keys and returns its claims.
func verifiedClaims(t *testing.T, srv *oauth.Server, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	jwks := srv.Keys().Set(t.Context()).JWKS()
	var claims map[string]any
	if err := tok.Claims(&jwks, &claims); err != nil {
		t.Fatalf("the token does not verify with the published keys: %v", err)
	}
	return claims
}

// wantOAuthError checks that err is the OAuth error code.
func wantOAuthError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Errorf("%s: %v, want the OAuth error %s", what, err, code)
	}
}

// s256 is the S256 code challenge of verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const verifier = "dBjftJeZ4CVP-mJ92K9qwYdlvBuUHRIupvFPF83YZNY" // a 43-character verifier

// TestTokensCarryTheLoginsClaims: the ID and access tokens of a code
// exchange say who logged in, for which application, when, and for how long,
// with the profile and email claims only when the scope asks for them.
func TestTokensCarryTheLoginsClaims(t *testing.T) {
	clock := mailtest.NewClock(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	ctx := t.Context()
	ids, srv, client, secret := tenantAt(t, clock.Now)
	no := false
	u, err := ids.CreateUser(ctx, identity.NewUser{Connection: connection, Email: "ana@example.com", Password: "Str0ng-Passw0rd!",
		VerifyEmail: &no, GivenName: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	authTime := clock.Now().Add(-time.Hour) // a session's login, an hour ago
	exchange := func(scope string) oauth.TokenResponse {
		t.Helper()
		ar := oauth.AuthorizeRequest{ResponseType: "code", ClientID: client.ClientID, RedirectURI: callback, Scope: scope, Nonce: "n-0S6_WzA2Mj"}
		code, err := codeOf(srv.BrowserLogin(ctx, client, u, ar, identity.Requester{IP: "192.0.2.1"}, authTime))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := srv.ExchangeCode(ctx, oauth.Login{ClientID: client.ClientID, ClientSecret: secret, RedirectURI: callback}, code, "")
		if err != nil {
			t.Fatalf("exchange for %q: %v", scope, err)
		}
		return tok
	}

	tok := exchange("openid profile email")
	if tok.TokenType != "Bearer" || tok.ExpiresIn != int(oauth.AccessTokenLifetime.Seconds()) || tok.Scope != "openid profile email" {
		t.Errorf("token response: %+v", tok)
	}
	id := verifiedClaims(t, srv, tok.IDToken)
	iat := float64(clock.Now().Unix())
	for claim, want := range map[string]any{
		"iss": "http://usher.test/", "sub": u.ID, "aud": client.ClientID, "nonce": "n-0S6_WzA2Mj",
		"iat": iat, "exp": iat + float64(client.JWTConfiguration.LifetimeInSeconds), "auth_time": float64(authTime.Unix()),
		"email": "ana@example.com", "email_verified": false, "given_name": "Ana",
	} {
		if id[claim] != want {
			t.Errorf("ID token %s = %v (%T), want %v", claim, id[claim], id[claim], want)
		}
	}
	access := verifiedClaims(t, srv, tok.AccessToken)
	for claim, want := range map[string]any{
		"iss": "http://usher.test/", "sub": u.ID, "azp": client.ClientID, "scope": "openid profile email",
		"iat": iat, "exp": iat + oauth.AccessTokenLifetime.Seconds(),
	} {
		if access[claim] != want {
			t.Errorf("access token %s = %v (%T), want %v", claim, access[claim], access[claim], want)
		}
	}
	// One audience is a string, as RFC 7519 §4.1.3 allows.
	if access["aud"] != "http://usher.test/userinfo" {
		t.Errorf("access token aud = %v, want the userinfo endpoint alone", access["aud"])
	}
	// The access token is not one for the Management API.
	if _, err := srv.VerifyAccessToken(tok.AccessToken, ids.ManagementAudience()); !errors.Is(err, oauth.ErrTokenClaims) {
		t.Errorf("a user's access token verified for the Management API: %v", err)
	}

	// openid alone: who, not what they are called nor their email.
	id = verifiedClaims(t, srv, exchange("openid").IDToken)
	for _, claim := range []string{"email", "email_verified", "name", "given_name", "nickname"} {
		if v, ok := id[claim]; ok {
			t.Errorf("scope openid: the ID token carries %s = %v", claim, v)
		}
	}
	// No openid: no ID token.
	if tok := exchange("profile"); tok.IDToken != "" {
		t.Errorf("scope profile: an ID token was issued: %q", tok.IDToken)
	}
}

// TestExpiryFollowsTheServersClock: a code lasts ten minutes, an access
// token a day, a browser session a week, each by the server's clock.
func TestExpiryFollowsTheServersClock(t *testing.T) {
	clock := mailtest.NewClock(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	ctx := t.Context()
	ids, srv, client, secret := tenantAt(t, clock.Now)
	u := ana(t, ids)
	login := oauth.Login{ClientID: client.ClientID, ClientSecret: secret, RedirectURI: callback}
	ar := oauth.AuthorizeRequest{ResponseType: "code", ClientID: client.ClientID, RedirectURI: callback, Scope: "openid"}
	code, err := codeOf(srv.BrowserLogin(ctx, client, u, ar, identity.Requester{}, clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10*time.Minute + time.Second)
	_, err = srv.ExchangeCode(ctx, login, code, "")
	wantOAuthError(t, "a code eleven minutes old", err, "invalid_grant")

	code, err = codeOf(srv.BrowserLogin(ctx, client, u, ar, identity.Requester{}, clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Minute)
	if _, err := srv.ExchangeCode(ctx, login, code, ""); err != nil {
		t.Errorf("a code nine minutes old: %v", err)
	}

	m2m, m2mSecret := managementClient(t, ids)
	tok, err := srv.ClientCredentials(ctx, oauth.ClientCredentialsRequest{ClientID: m2m, ClientSecret: m2mSecret, Audience: ids.ManagementAudience()})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(oauth.AccessTokenLifetime - time.Second)
	if _, err := srv.VerifyAccessToken(tok.AccessToken, ids.ManagementAudience()); err != nil {
		t.Errorf("an access token a second from its end: %v", err)
	}
	clock.Advance(2 * time.Second)
	if _, err := srv.VerifyAccessToken(tok.AccessToken, ids.ManagementAudience()); !errors.Is(err, oauth.ErrTokenExpired) {
		t.Errorf("an access token a second past its end: %v, want ErrTokenExpired", err)
	}

	cookie, err := srv.NewSession(ctx, u, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(7*24*time.Hour - time.Minute)
	if _, _, live := srv.SessionUser(ctx, cookie); !live {
		t.Error("a session ended before its week was over")
	}
	clock.Advance(2 * time.Minute)
	if _, _, live := srv.SessionUser(ctx, cookie); live {
		t.Error("a session lives on after a week")
	}
}

// managementClient makes a machine-to-machine client allowed the
// Management API, and returns its ID and secret.
func managementClient(t *testing.T, ids *identity.Service) (string, string) {
	t.Helper()
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	c, secret, err := ids.CreateClient(t.Context(), identity.Patch{"name": raw("Back office"), "app_type": raw("non_interactive")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ids.CreateClientGrant(t.Context(), identity.NewClientGrant{ClientID: c.ClientID, Audience: ids.ManagementAudience(),
		Scope: []string{"read:users"}}); err != nil {
		t.Fatal(err)
	}
	return c.ClientID, secret
}

// TestManagementAudienceSpellings: a client asks for a Management API token
// with the audience as Usher's public URL says it, or with the other
// scheme (a proxy terminating TLS makes both appear); either way the token
// is one for the Management API. Without the trailing slash the audience is
// another API, which Usher does not serve, as Auth0 does not.
func TestManagementAudienceSpellings(t *testing.T) {
	ctx := t.Context()
	ids, srv, _, _ := tenant(t) // public URL http://usher.test
	id, secret := managementClient(t, ids)
	for _, aud := range []string{"http://usher.test/api/v2/", "https://usher.test/api/v2/"} {
		tok, err := srv.ClientCredentials(ctx, oauth.ClientCredentialsRequest{ClientID: id, ClientSecret: secret, Audience: aud})
		if err != nil {
			t.Errorf("audience %s: %v", aud, err)
			continue
		}
		claims, err := srv.VerifyAccessToken(tok.AccessToken, ids.ManagementAudience())
		if err != nil || claims.Scope != "read:users" || claims.Subject != id+"@clients" {
			t.Errorf("audience %s: the token is not a Management API token for the client: %+v %v", aud, claims, err)
		}
	}
	for _, aud := range []string{"http://usher.test/api/v2", "https://usher.test/api/v2", "http://usher.test/api/v1/", "http://other.test/api/v2/"} {
		_, err := srv.ClientCredentials(ctx, oauth.ClientCredentialsRequest{ClientID: id, ClientSecret: secret, Audience: aud})
		wantOAuthError(t, "audience "+aud, err, "access_denied")
	}
	_, err := srv.ClientCredentials(ctx, oauth.ClientCredentialsRequest{ClientID: id, ClientSecret: "wrong", Audience: ids.ManagementAudience()})
	wantOAuthError(t, "a wrong secret", err, "access_denied")
}

// TestPKCE: a code issued with a challenge is exchanged only with the
// verifier it was made from, S256 or plain (RFC 7636); a public client must
// use one.
func TestPKCE(t *testing.T) {
	ctx := t.Context()
	ids, srv, client, secret := tenant(t)
	u := ana(t, ids)
	login := oauth.Login{ClientID: client.ClientID, ClientSecret: secret, RedirectURI: callback}
	codeFor := func(c identity.Client, challenge, method string) string {
		t.Helper()
		ar := oauth.AuthorizeRequest{ResponseType: "code", ClientID: c.ClientID, RedirectURI: callback, Scope: "openid",
			CodeChallenge: challenge, CodeChallengeMethod: method}
		if _, err := srv.CheckAuthorize(ctx, ar); err != nil {
			t.Fatalf("authorize with challenge %q (%s): %v", challenge, method, err)
		}
		code, err := codeOf(srv.BrowserLogin(ctx, c, u, ar, identity.Requester{}, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	for _, tc := range []struct {
		name, challenge, method string
		wrong                   []string // verifiers that must be refused
	}{
		{"S256", s256(verifier), "S256", []string{"", verifier + "x", s256(verifier)}},
		{"plain", verifier, "plain", []string{"", verifier + "x", s256(verifier)}},
		{"plain by default", verifier, "", []string{"", s256(verifier)}},
	} {
		for _, bad := range tc.wrong {
			_, err := srv.ExchangeCode(ctx, login, codeFor(client, tc.challenge, tc.method), bad)
			wantOAuthError(t, tc.name+" with the verifier "+bad, err, "invalid_grant")
		}
		if _, err := srv.ExchangeCode(ctx, login, codeFor(client, tc.challenge, tc.method), verifier); err != nil {
			t.Errorf("%s with the right verifier: %v", tc.name, err)
		}
	}
	_, err := srv.CheckAuthorize(ctx, oauth.AuthorizeRequest{ResponseType: "code", ClientID: client.ClientID, RedirectURI: callback,
		CodeChallenge: verifier, CodeChallengeMethod: "S512"})
	wantOAuthError(t, "code_challenge_method S512", err, "invalid_request")

	// A public client (a single-page app) has no secret to prove itself with:
	// without PKCE it gets no code.
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	spa, _, err := ids.CreateClient(ctx, identity.Patch{"name": raw("SPA"), "app_type": raw("spa"), "callbacks": raw([]string{callback}),
		"token_endpoint_auth_method": raw("none"), "grant_types": raw([]string{"authorization_code"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.CheckAuthorize(ctx, oauth.AuthorizeRequest{ResponseType: "code", ClientID: spa.ClientID, RedirectURI: callback})
	wantOAuthError(t, "a public client without a code_challenge", err, "invalid_request")
	public := oauth.Login{ClientID: spa.ClientID, RedirectURI: callback}
	code := codeFor(spa, s256(verifier), "S256")
	if _, err := srv.ExchangeCode(ctx, public, code, "not-the-verifier-of-this-code-0123456789abc"); err == nil {
		t.Error("a public client exchanged a code with the wrong verifier")
	}
	if _, err := srv.ExchangeCode(ctx, public, codeFor(spa, s256(verifier), "S256"), verifier); err != nil {
		t.Errorf("a public client with its verifier: %v", err)
	}
}

// codeOf is the authorization code of a BrowserLogin's answer.
func codeOf(answer url.Values, err error) (string, error) { return answer.Get("code"), err }
