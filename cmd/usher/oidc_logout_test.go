package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestOIDCLogout: RP-initiated logout at /oidc/logout, as discovery's
// end_session_endpoint says. The id_token_hint (expired or not) names the
// client, whose Allowed Logout URLs bound post_logout_redirect_uri; the
// state comes back; the session ends. A hint Usher did not sign, a client_id
// that contradicts it, or a redirect with no client are refused.
func TestOIDCLogout(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	app := s.app(t, tok, map[string]any{"allowed_logout_urls": []string{"https://app.example.com/bye"}})
	other := s.app(t, tok, nil)
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "out@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, nil)

	// A browser session, and an ID token of the app.
	c := browser(t)
	authorize := s.URL + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {"https://app.example.com/callback"}, "scope": {"openid"}}.Encode()
	_, page := get(t, c, authorize)
	resp, err := c.PostForm(s.URL+"/u/login", url.Values{"_csrf": {csrfField.FindStringSubmatch(page)[1]},
		"q": {html.UnescapeString(queryField.FindStringSubmatch(page)[1])}, "username": {"out@example.com"}, "password": {"Str0ng-Passw0rd!"}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	_, tokens := s.form(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "code": {loc.Query().Get("code")}, "redirect_uri": {"https://app.example.com/callback"}})
	idToken, _ := tokens["id_token"].(string)
	if idToken == "" {
		t.Fatalf("no ID token: %v", tokens)
	}
	var disco map[string]any
	s.call(t, "GET", "/.well-known/openid-configuration", "", nil, &disco)
	if disco["end_session_endpoint"] != s.URL+"/oidc/logout" {
		t.Fatalf("end_session_endpoint: %v", disco["end_session_endpoint"])
	}

	logout := func(q url.Values) *http.Response {
		t.Helper()
		resp, err := c.Get(s.URL + "/oidc/logout?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	forged := idToken[:strings.LastIndex(idToken, ".")] + ".c2lnbmF0dXJl"
	for name, q := range map[string]url.Values{
		"a forged hint":          {"id_token_hint": {forged}, "post_logout_redirect_uri": {"https://app.example.com/bye"}},
		"a contradicting client": {"id_token_hint": {idToken}, "client_id": {other.ClientID}},
		"a URL not allowed":      {"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example.com/"}},
		"a redirect, no client":  {"post_logout_redirect_uri": {"https://app.example.com/bye"}},
	} {
		if resp := logout(q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := c.Get(authorize); resp.StatusCode != http.StatusFound {
		t.Fatalf("the session ended on a refused logout: %d", resp.StatusCode)
	}

	s.Clock.Advance(48 * time.Hour) // the ID token has expired: still a hint
	resp = logout(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"xyz"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://app.example.com/bye?state=xyz" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st, page := get(t, c, authorize); st != http.StatusOK || !strings.Contains(page, `name="password"`) {
		t.Fatalf("after the logout, /authorize: %d, want the login form", st)
	}
}
