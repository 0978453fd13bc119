package main

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var queryField = regexp.MustCompile(`name="q" value="([^"]+)"`)

// pkce returns a code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestAuthorizationCodeFlowWithSessionsAndLogout(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		spa := s.app(t, tok, map[string]any{"app_type": "spa", "token_endpoint_auth_method": "none", "allowed_logout_urls": []string{"https://app.example.com/bye"}})
		s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "kai@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, nil)
		verifier, challenge := pkce()
		authorize := s.URL + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {spa.ClientID}, "redirect_uri": {"https://app.example.com/callback"},
			"scope": {"openid profile email"}, "state": {"st4te"}, "nonce": {"n0nce"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode()

		c := browser(t)
		st, page := get(t, c, authorize)
		if st != 200 || !strings.Contains(page, "Log in") || !strings.Contains(page, "Sign up") {
			t.Fatalf("login page: %d\n%s", st, page)
		}
		csrf, q := csrfField.FindStringSubmatch(page)[1], queryField.FindStringSubmatch(page)[1]
		q = strings.ReplaceAll(q, "&amp;", "&")
		post := func(password string) *http.Response {
			resp, err := c.PostForm(s.URL+"/u/login", url.Values{"_csrf": {csrf}, "q": {q}, "username": {"kai@example.com"}, "password": {password}})
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		if resp := post("wrong"); resp.StatusCode != 401 {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		resp := post("Str0ng-Passw0rd!")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != 302 || loc.Host != "app.example.com" || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
			t.Fatalf("after login: %d %v", resp.StatusCode, loc)
		}
		code := loc.Query().Get("code")
		exchange := func(code, verifier string) (int, map[string]any) {
			return s.form(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {spa.ClientID}, "code": {code},
				"code_verifier": {verifier}, "redirect_uri": {"https://app.example.com/callback"}})
		}
		if st, b := exchange(code, "not-the-verifier"); st != 403 || b["error"] != "invalid_grant" {
			t.Fatalf("wrong verifier: %d %v", st, b)
		}
		st, tokens := exchange(code, verifier)
		if st != 200 || tokens["id_token"] == nil {
			t.Fatalf("exchange: %d %v", st, tokens)
		}
		if st, _ := exchange(code, verifier); st != 403 {
			t.Fatalf("a code works once: %d", st)
		}

		// The session skips the form; prompt=login asks again.
		resp, err := c.Get(authorize)
		if err != nil || resp.StatusCode != 302 || !strings.Contains(resp.Header.Get("Location"), "code=") {
			t.Fatalf("second authorize with a session: %v %v", resp.StatusCode, err)
		}
		if st, page := get(t, c, authorize+"&prompt=login"); st != 200 || !strings.Contains(page, `name="password"`) {
			t.Fatalf("prompt=login: %d", st)
		}

		// form_post answers with a page that posts the code.
		if st, page := get(t, c, authorize+"&response_mode=form_post"); st != 200 || !strings.Contains(page, `action="https://app.example.com/callback"`) || !strings.Contains(page, `name="code"`) {
			t.Fatalf("form_post: %d\n%s", st, page)
		}

		// Logout: returnTo must be allowed.
		if st, _ := get(t, c, s.URL+"/v2/logout?client_id="+spa.ClientID+"&returnTo="+url.QueryEscape("https://evil.example.com")); st != 400 {
			t.Fatalf("unlisted returnTo: %d", st)
		}
		resp, err = c.Get(s.URL + "/v2/logout?client_id=" + spa.ClientID + "&returnTo=" + url.QueryEscape("https://app.example.com/bye"))
		if err != nil || resp.StatusCode != 302 || resp.Header.Get("Location") != "https://app.example.com/bye" {
			t.Fatalf("logout: %v %v", resp.StatusCode, err)
		}
		if st, page := get(t, c, authorize); st != 200 || !strings.Contains(page, `name="password"`) {
			t.Fatalf("after logout the form is back: %d", st)
		}

		// A redirect_uri that is not a callback is shown, never followed.
		if st, page := get(t, c, strings.Replace(authorize, url.QueryEscape("https://app.example.com/callback"), url.QueryEscape("https://evil.example.com/cb"), 1)); st != 400 || !strings.Contains(page, "Allowed Callback URLs") {
			t.Fatalf("bad redirect_uri: %d\n%s", st, page)
		}
		// A public client without PKCE is refused.
		resp, _ = c.Get(strings.Replace(authorize, "&code_challenge="+challenge, "", 1))
		if l, _ := url.Parse(resp.Header.Get("Location")); l == nil || l.Query().Get("error") != "invalid_request" {
			t.Fatalf("no PKCE: %v", resp.Header.Get("Location"))
		}
	})
}

func TestSignupCanBeClosed(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	web := s.app(t, tok, nil)
	signup := func(email string) (int, map[string]any) {
		var out map[string]any
		st := s.call(t, "POST", "/dbconnections/signup", "", map[string]any{"client_id": web.ClientID, "email": email, "password": "Str0ng-Passw0rd!", "connection": dbConn}, &out)
		return st, out
	}
	if st, out := signup("open@example.com"); st != 200 || out["_id"] == nil || out["email"] != "open@example.com" {
		t.Fatalf("signup: %d %v", st, out)
	}
	if st, out := signup("open@example.com"); st != 400 || out["code"] != "invalid_signup" {
		t.Fatalf("duplicate signup: %d %v", st, out)
	}
	var conns []map[string]any
	s.call(t, "GET", "/api/v2/connections?name="+dbConn, tok, nil, &conns)
	opts := conns[0]["options"].(map[string]any)
	opts["disable_signup"] = true
	s.call(t, "PATCH", "/api/v2/connections/"+conns[0]["id"].(string), tok, map[string]any{"options": opts}, nil)
	if st, out := signup("closed@example.com"); st != 400 || out["code"] != "operation_not_allowed" {
		t.Fatalf("signup when closed: %d %v", st, out)
	}
	authorize := s.URL + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {web.ClientID}, "redirect_uri": {"https://app.example.com/callback"}, "scope": {"openid"}}.Encode()
	if st, page := get(t, browser(t), authorize); st != 200 || strings.Contains(page, "Sign up") {
		t.Fatalf("the login page still offers sign-up: %d", st)
	}
	if st, _ := get(t, browser(t), s.URL+"/u/signup?"+strings.SplitN(authorize, "?", 2)[1]); st != 403 {
		t.Fatalf("sign-up page when closed: %d", st)
	}
}
