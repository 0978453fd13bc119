package main

// A real OpenID Connect relying party against Usher: coreos/go-oidc and
// golang.org/x/oauth2, as a Go web application would use them, driven by
// Chromium. The relying party discovers Usher from its issuer, sends the
// browser to /authorize with state, nonce and PKCE, exchanges the code,
// verifies the ID token against the JWKS (issuer, audience, signature,
// expiry), checks the nonce, calls /userinfo and shows who logged in.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcRP is the relying party: an HTTP server on 127.0.0.1 with /login,
// /callback, /logout and /bye.
type oidcRP struct {
	srv      *httptest.Server
	issuer   string // Usher's issuer, with its trailing slash
	usher    string // Usher's base URL
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	config   oauth2.Config

	mu      sync.Mutex
	pending map[string]rpPending // by state
	logins  []rpLogin
	errs    []string
}

type rpPending struct{ nonce, verifier string }

// rpLogin is what the relying party learnt from one completed login.
type rpLogin struct {
	Subject, Email, Nonce, UserInfoEmail string
	EmailVerified                        bool
	IssuedAt                             time.Time
	AuthTime                             int64 // auth_time, 0 when absent
	AtHash                               bool
	RefreshToken                         bool
	token                                *oauth2.Token
}

const rpStateCookie = "rp_state"

var rpPage = template.Must(template.New("rp").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1>{{with .Email}}<p id="who">Signed in as {{.}}</p>{{end}}{{with .Sub}}<p id="sub">{{.}}</p>{{end}}{{with .Error}}<p id="error">{{.}}</p>{{end}}
<p><a id="again" href="/login">Log in</a> <a id="logout" href="/logout">Log out</a></p></body></html>`))

type rpView struct{ Title, Email, Sub, Error string }

func newOIDCRP(t *testing.T) *oidcRP {
	t.Helper()
	rp := &oidcRP{pending: map[string]rpPending{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("GET /logout", rp.logout)
	mux.HandleFunc("GET /bye", func(w http.ResponseWriter, r *http.Request) {
		rp.render(w, http.StatusOK, rpView{Title: "Signed out of the relying party"})
	})
	rp.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(rp.srv.Close)
	return rp
}

// connect discovers Usher at its issuer and configures the OAuth client.
func (rp *oidcRP) connect(t *testing.T, s *testServer, clientID, clientSecret string) {
	t.Helper()
	rp.usher = s.URL
	rp.issuer = s.URL + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, rp.issuer)
	if err != nil {
		t.Fatalf("discovery at the issuer %s: %v", rp.issuer, err)
	}
	var doc struct {
		Issuer           string   `json:"issuer"`
		EndSession       string   `json:"end_session_endpoint"`
		CodeChallenge    []string `json:"code_challenge_methods_supported"`
		SigningAlgs      []string `json:"id_token_signing_alg_values_supported"`
		UserInfoEndpoint string   `json:"userinfo_endpoint"`
	}
	if err := provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != rp.issuer || doc.UserInfoEndpoint != s.URL+"/userinfo" || !contains(doc.CodeChallenge, "S256") || !contains(doc.SigningAlgs, "RS256") {
		t.Fatalf("discovery document: %+v", doc)
	}
	endpoint := provider.Endpoint()
	if endpoint.AuthURL != s.URL+"/authorize" || endpoint.TokenURL != s.URL+"/oauth/token" {
		t.Fatalf("discovered endpoints: %+v", endpoint)
	}
	// client_secret_basic, said outright: oauth2's auto-detection would
	// quietly retry with the secret in the body if Basic failed.
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	rp.provider = provider
	rp.verifier = provider.Verifier(&oidc.Config{ClientID: clientID}) // audience, issuer, expiry and signature checked
	rp.config = oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint:     endpoint,
		RedirectURL:  rp.srv.URL + "/callback",
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
	}
}

func (rp *oidcRP) render(w http.ResponseWriter, status int, v rpView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	rpPage.Execute(w, v)
}

// fail records what went wrong (the test reads it) and shows it.
func (rp *oidcRP) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rp.mu.Lock()
	rp.errs = append(rp.errs, msg)
	rp.mu.Unlock()
	rp.render(w, status, rpView{Title: "Login failed", Error: msg})
}

func (rp *oidcRP) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.pending[state] = rpPending{nonce: nonce, verifier: verifier}
	rp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: rpStateCookie, Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, rp.config.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (rp *oidcRP) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		rp.fail(w, http.StatusBadRequest, "the identity server answered %s: %s", e, q.Get("error_description"))
		return
	}
	state := q.Get("state")
	c, err := r.Cookie(rpStateCookie)
	if err != nil || state == "" || c.Value != state {
		rp.fail(w, http.StatusBadRequest, "state %q does not match the browser's %v", state, c)
		return
	}
	rp.mu.Lock()
	p, ok := rp.pending[state]
	delete(rp.pending, state)
	rp.mu.Unlock()
	if !ok {
		rp.fail(w, http.StatusBadRequest, "unknown or used state %q", state)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: rpStateCookie, Value: "", Path: "/", MaxAge: -1})

	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	tok, err := rp.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "code exchange: %v", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		rp.fail(w, http.StatusBadGateway, "no id_token in the token response")
		return
	}
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "ID token: %v", err)
		return
	}
	if idt.Nonce != p.nonce {
		rp.fail(w, http.StatusBadGateway, "ID token nonce %q, sent %q", idt.Nonce, p.nonce)
		return
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			rp.fail(w, http.StatusBadGateway, "at_hash: %v", err)
			return
		}
	}
	// The audience check is on: the same token is refused for another client.
	other := rp.provider.Verifier(&oidc.Config{ClientID: "some-other-client"})
	if _, err := other.Verify(ctx, raw); err == nil {
		rp.fail(w, http.StatusBadGateway, "a verifier for another client accepted the ID token")
		return
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		AuthTime      int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		rp.fail(w, http.StatusBadGateway, "ID token claims: %v", err)
		return
	}
	info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "userinfo: %v", err)
		return
	}
	if info.Subject != idt.Subject {
		rp.fail(w, http.StatusBadGateway, "userinfo sub %q, ID token sub %q", info.Subject, idt.Subject)
		return
	}
	rp.mu.Lock()
	rp.logins = append(rp.logins, rpLogin{Subject: idt.Subject, Email: claims.Email, Nonce: idt.Nonce, UserInfoEmail: info.Email,
		EmailVerified: claims.EmailVerified, IssuedAt: idt.IssuedAt, AuthTime: claims.AuthTime, AtHash: idt.AccessTokenHash != "", RefreshToken: tok.RefreshToken != "", token: tok})
	rp.mu.Unlock()
	rp.render(w, http.StatusOK, rpView{Title: "Signed in", Email: info.Email, Sub: idt.Subject})
}

// logout ends Usher's session the Auth0 way and comes back to /bye.
func (rp *oidcRP) logout(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, rp.usher+"/v2/logout?"+url.Values{"client_id": {rp.config.ClientID}, "returnTo": {rp.srv.URL + "/bye"}}.Encode(), http.StatusFound)
}

func (rp *oidcRP) completed() ([]rpLogin, []string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]rpLogin(nil), rp.logins...), append([]string(nil), rp.errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// at returns the address the tab shows.
func (p *browserTab) at() string {
	p.t.Helper()
	return evalIn[string](p, `location.href`)
}

func TestOIDCRelyingPartyInBrowser(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		rp := newOIDCRP(t)
		app := s.app(t, tok, map[string]any{"name": "Go relying party", "callbacks": []string{rp.srv.URL + "/callback"},
			"allowed_logout_urls": []string{rp.srv.URL + "/bye"}})
		if app.ClientSecret == "" {
			t.Fatalf("the regular web app has no secret: %+v", app)
		}
		var u user
		const email, password = "lin@example.com", "Str0ng-Passw0rd!"
		if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": email, "password": password, "verify_email": false, "name": "Lin"}, &u); st != 201 {
			t.Fatalf("create user: %d", st)
		}
		rp.connect(t, s, app.ClientID, app.ClientSecret)
		c := startChromium(t)

		// First visit: the relying party sends the browser to Usher's
		// hosted login page.
		p := c.newTab(true)
		if st := p.open(rp.srv.URL + "/login"); st != http.StatusOK {
			t.Fatalf("RP /login: %d\n%s", st, p.shown())
		}
		if at := p.at(); !strings.HasPrefix(at, s.URL+"/authorize?") {
			t.Fatalf("the RP's /login led to %s, want Usher's /authorize", at)
		}
		authorize, _ := url.Parse(p.at())
		aq := authorize.Query()
		if aq.Get("client_id") != app.ClientID || aq.Get("redirect_uri") != rp.srv.URL+"/callback" || aq.Get("code_challenge_method") != "S256" ||
			aq.Get("code_challenge") == "" || aq.Get("nonce") == "" || aq.Get("state") == "" || aq.Get("response_type") != "code" {
			t.Fatalf("authorize request: %v", aq)
		}
		p.wantVisible(`#username`, `#password`, `button[type=submit]`)
		p.wantShown("Log in")
		p.wantStyled(`button[type=submit]`)
		p.screenshot("usher-login")

		// A wrong password keeps the person on Usher's page.
		p.typeInto(`#username`, email)
		p.typeInto(`#password`, "not-the-password")
		if st := p.click(`button[type=submit]`); st != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d\n%s", st, p.shown())
		}
		p.wantShown("Wrong email or password.")
		if logins, errs := rp.completed(); len(logins) != 0 || len(errs) != 0 {
			t.Fatalf("after a wrong password the RP saw logins %v, errors %v", logins, errs)
		}
		if got := evalIn[string](p, `document.querySelector('#username').value`); got != email {
			t.Fatalf("the email field holds %q after a wrong password", got)
		}
		p.typeInto(`#password`, password)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			_, errs := rp.completed()
			t.Fatalf("login: %d\n%s\nRP errors: %v", st, p.shown(), errs)
		}
		if at := p.at(); !strings.HasPrefix(at, rp.srv.URL+"/callback?") {
			t.Fatalf("after logging in the browser is at %s, want the RP's callback\n%s", at, p.shown())
		}
		p.wantShown("Signed in", "Signed in as "+email, u.UserID)
		p.screenshot("rp-signed-in")
		logins, errs := rp.completed()
		if len(errs) != 0 || len(logins) != 1 {
			t.Fatalf("RP logins %+v, errors %v", logins, errs)
		}
		first := logins[0]
		if first.Subject != u.UserID || first.Email != email || first.UserInfoEmail != email || !first.RefreshToken {
			t.Fatalf("first login: %+v, want sub %s, email %s in the ID token and from /userinfo, and a refresh token", first, u.UserID, email)
		}

		if first.AuthTime == 0 || first.AuthTime > time.Now().Unix() {
			t.Fatalf("first login: auth_time %d", first.AuthTime)
		}

		// Second visit while Usher's session lives: no form, straight back.
		if st := p.open(rp.srv.URL + "/login"); st != http.StatusOK {
			_, errs := rp.completed()
			t.Fatalf("second visit: %d\n%s\nRP errors: %v", st, p.shown(), errs)
		}
		if at := p.at(); !strings.HasPrefix(at, rp.srv.URL+"/callback?") {
			t.Fatalf("second visit with a live session ended at %s, want the RP's callback\n%s", at, p.shown())
		}
		p.wantShown("Signed in as "+email, "!Wrong email or password")
		logins, errs = rp.completed()
		if len(errs) != 0 || len(logins) != 2 {
			t.Fatalf("after the second visit: RP logins %+v, errors %v", logins, errs)
		}
		if second := logins[1]; second.Subject != u.UserID || second.Email != email || second.Nonce == first.Nonce {
			t.Fatalf("second login %+v after first %+v: want the same user and a fresh nonce", second, first)
		}

		// Another browser profile has no session: the form again.
		other := c.newTab(true)
		if st := other.open(rp.srv.URL + "/login"); st != http.StatusOK || !strings.HasPrefix(other.at(), s.URL+"/authorize?") {
			t.Fatalf("a fresh profile: %d at %s\n%s", st, other.at(), other.shown())
		}
		other.wantVisible(`#password`)

		// Logout through /v2/logout, returning to the relying party.
		if st := p.open(rp.srv.URL + "/logout"); st != http.StatusOK {
			t.Fatalf("logout: %d\n%s", st, p.shown())
		}
		if at := p.at(); at != rp.srv.URL+"/bye" {
			t.Fatalf("after logout the browser is at %s, want %s/bye\n%s", at, rp.srv.URL, p.shown())
		}
		p.wantShown("Signed out of the relying party")
		if st := p.open(rp.srv.URL + "/login"); st != http.StatusOK {
			t.Fatalf("after logout: %d\n%s", st, p.shown())
		}
		if at := p.at(); !strings.HasPrefix(at, s.URL+"/authorize?") {
			t.Fatalf("after logout /login ended at %s, want Usher's login form\n%s", at, p.shown())
		}
		p.wantVisible(`#username`, `#password`)
		p.typeInto(`#password`, password)
		p.typeInto(`#username`, email)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			t.Fatalf("login after logout: %d\n%s", st, p.shown())
		}
		p.wantShown("Signed in as " + email)
		logins, errs = rp.completed()
		if len(errs) != 0 || len(logins) != 3 {
			t.Fatalf("at the end: RP logins %+v, errors %v", logins, errs)
		}
		if third := logins[2]; third.AuthTime < first.AuthTime {
			t.Fatalf("a new password login has auth_time %d, the first was %d", third.AuthTime, first.AuthTime)
		}
	})
}

// TestOIDCIssuerIsExact: go-oidc refuses a provider whose discovered issuer
// differs from the one configured, so the trailing slash matters.
func TestOIDCIssuerIsExact(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := oidc.NewProvider(ctx, s.URL+"/"); err != nil {
		t.Fatalf("provider at %s/: %v", s.URL, err)
	}
	_, err := oidc.NewProvider(ctx, s.URL)
	var mismatch *oidc.IssuerMismatchError
	if !errors.As(err, &mismatch) || mismatch.Discovered != s.URL+"/" {
		t.Fatalf("provider at %s (no slash): %v, want an issuer mismatch naming %s/", s.URL, err, s.URL)
	}
}

// TestOIDCSessionKeepsAuthTime: an ID token issued through Usher's session
// (no password typed) carries the auth_time of the login that started the
// session, as OpenID Connect Core 1.0 §2 defines it ("Time when the End-User
// authentication occurred") and as max_age checks rely on; so does an ID
// token from the refresh-token grant. The same relying party as above, driven
// by a plain HTTP client with a cookie jar.
func TestOIDCSessionKeepsAuthTime(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	rp := newOIDCRP(t)
	app := s.app(t, tok, map[string]any{"callbacks": []string{rp.srv.URL + "/callback"}})
	const email, password = "kai@example.com", "Str0ng-Passw0rd!"
	if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": email, "password": password, "verify_email": false}, nil); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	rp.connect(t, s, app.ClientID, app.ClientSecret)
	jar, _ := cookiejar.New(nil)
	// person follows redirects across Usher and the relying party, as a
	// browser does; visit returns the final status, address and page.
	person := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	visit := func(resp *http.Response, err error) (int, string, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.String(), string(body)
	}

	st, at, page := visit(person.Get(rp.srv.URL + "/login"))
	if st != 200 || !strings.HasPrefix(at, s.URL+"/authorize?") || csrfField.FindStringSubmatch(page) == nil {
		t.Fatalf("login page: %d at %s\n%s", st, at, page)
	}
	csrf, q := csrfField.FindStringSubmatch(page)[1], html.UnescapeString(queryField.FindStringSubmatch(page)[1])
	st, at, page = visit(person.PostForm(s.URL+"/u/login", url.Values{"_csrf": {csrf}, "q": {q}, "username": {email}, "password": {password}}))
	if _, errs := rp.completed(); st != 200 || !strings.HasPrefix(at, rp.srv.URL+"/callback?") || len(errs) != 0 {
		t.Fatalf("login: %d at %s, RP errors %v\n%s", st, at, errs, page)
	}

	// auth_time has whole seconds: let one pass on the server's clock, so
	// that a new authentication would show.
	s.Clock.Advance(1100 * time.Millisecond)
	st, at, page = visit(person.Get(rp.srv.URL + "/login"))
	logins, errs := rp.completed()
	if st != 200 || !strings.HasPrefix(at, rp.srv.URL+"/callback?") || len(errs) != 0 || len(logins) != 2 {
		t.Fatalf("second visit: %d at %s, RP logins %d, errors %v\n%s", st, at, len(logins), errs, page)
	}
	first, second := logins[0], logins[1]
	if first.AuthTime == 0 || !second.IssuedAt.After(first.IssuedAt) {
		t.Fatalf("first %+v, second %+v: want auth_time in both and a newer token second", first, second)
	}

	// The refresh-token grant: no authentication either.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	refreshed, err := rp.config.TokenSource(ctx, &oauth2.Token{RefreshToken: first.token.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	raw, _ := refreshed.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("refreshed ID token %q: %v", raw, err)
	}
	var claims struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}

	if second.AuthTime != first.AuthTime || claims.AuthTime != first.AuthTime {
		t.Fatalf("auth_time: %d at the password login; %d in the ID token issued through the session a second later "+
			"(GET /authorize with the usher_session cookie, then POST /oauth/token grant_type=authorization_code); "+
			"%d in the ID token of the refresh-token grant. Both must be the password login's %d",
			first.AuthTime, second.AuthTime, claims.AuthTime, first.AuthTime)
	}
}
