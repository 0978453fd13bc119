package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var webMessageData = regexp.MustCompile(`data-origin="([^"]*)" data-message="([^"]*)"`)

// claimsOf decodes a JWT's payload (its signature is checked elsewhere).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(payload), &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// halfHash is at_hash and c_hash as OpenID Connect defines them for RS256.
func halfHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// TestImplicitHybridAndWebMessage: /authorize answers the implicit and
// hybrid response types in the fragment, with at_hash and c_hash, requires
// a nonce and the implicit grant; response_mode=web_message answers with a
// page only the application's origin may frame, which posts the answer to
// that origin; prompt=none without a session answers login_required there.
func TestImplicitHybridAndWebMessage(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	const callback = "https://app.example.com/callback"
	spa := s.app(t, tok, map[string]any{"app_type": "spa", "token_endpoint_auth_method": "none", "callbacks": []string{callback},
		"grant_types": []string{"authorization_code", "implicit", "refresh_token"}})
	codeOnly := s.app(t, tok, map[string]any{"app_type": "spa", "token_endpoint_auth_method": "none", "callbacks": []string{callback},
		"grant_types": []string{"authorization_code"}})
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "imp@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, nil)
	authorize := func(client string, extra url.Values) string {
		_, challenge := pkce()
		q := url.Values{"client_id": {client}, "redirect_uri": {callback}, "scope": {"openid profile"}, "state": {"st4te"}, "nonce": {"n0nce"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		for k, v := range extra {
			q[k] = v
		}
		return s.URL + "/authorize?" + q.Encode()
	}
	redirect := func(c *http.Client, link string) *url.URL {
		t.Helper()
		resp, err := c.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || loc.Host != "app.example.com" {
			t.Fatalf("%s: %d to %q", link, resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc
	}

	// Log in with the implicit flow: the tokens come back in the fragment.
	c := browser(t)
	st, page := get(t, c, authorize(spa.ClientID, url.Values{"response_type": {"id_token token"}}))
	if st != http.StatusOK {
		t.Fatalf("login page: %d", st)
	}
	csrf, q := csrfField.FindStringSubmatch(page)[1], html.UnescapeString(queryField.FindStringSubmatch(page)[1])
	resp, err := c.PostForm(s.URL+"/u/login", url.Values{"_csrf": {csrf}, "q": {q}, "username": {"imp@example.com"}, "password": {"Str0ng-Passw0rd!"}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	answer, _ := url.ParseQuery(loc.Fragment)
	if resp.StatusCode != http.StatusFound || loc.RawQuery != "" || answer.Get("state") != "st4te" || answer.Get("token_type") != "Bearer" ||
		answer.Get("access_token") == "" || answer.Get("id_token") == "" || answer.Get("code") != "" || answer.Get("refresh_token") != "" {
		t.Fatalf("implicit answer: %d %v", resp.StatusCode, loc)
	}
	id := claimsOf(t, answer.Get("id_token"))
	if id["nonce"] != "n0nce" || id["at_hash"] != halfHash(answer.Get("access_token")) || id["aud"] != spa.ClientID {
		t.Fatalf("the implicit ID token: %v", id)
	}

	// Hybrid, silently, by web_message: a page for the app's origin only.
	st, page = get(t, c, authorize(spa.ClientID, url.Values{"response_type": {"code id_token"}, "response_mode": {"web_message"}, "prompt": {"none"}}))
	m := webMessageData.FindStringSubmatch(page)
	if st != http.StatusOK || m == nil || m[1] != "https://app.example.com" {
		t.Fatalf("web_message page: %d\n%s", st, page)
	}
	var msg struct {
		Type     string            `json:"type"`
		Response map[string]string `json:"response"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[2])), &msg); err != nil || msg.Type != "authorization_response" ||
		msg.Response["code"] == "" || msg.Response["state"] != "st4te" {
		t.Fatalf("web_message: %v %+v", err, msg)
	}
	if id := claimsOf(t, msg.Response["id_token"]); id["c_hash"] != halfHash(msg.Response["code"]) {
		t.Fatalf("the hybrid ID token: %v", id)
	}
	resp, _ = c.Get(authorize(spa.ClientID, url.Values{"response_type": {"code id_token"}, "response_mode": {"web_message"}, "prompt": {"none"}}))
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://app.example.com") || resp.Header.Get("X-Frame-Options") != "" {
		t.Fatalf("web_message framing: %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
	}

	// No session: prompt=none says login_required, in the app's window.
	_, page = get(t, browser(t), authorize(spa.ClientID, url.Values{"response_type": {"code"}, "response_mode": {"web_message"}, "prompt": {"none"}}))
	if m := webMessageData.FindStringSubmatch(page); m == nil || !strings.Contains(html.UnescapeString(m[2]), `"error":"login_required"`) {
		t.Fatalf("prompt=none without a session: %s", page)
	}

	// What OpenID Connect and Auth0 refuse.
	for _, tc := range []struct {
		client string
		q      url.Values
		code   string
	}{
		{spa.ClientID, url.Values{"response_type": {"id_token"}, "nonce": {""}}, "invalid_request"},
		{spa.ClientID, url.Values{"response_type": {"token"}, "response_mode": {"query"}}, "invalid_request"},
		{spa.ClientID, url.Values{"response_type": {"code"}, "response_mode": {"carrier_pigeon"}}, "invalid_request"},
		{spa.ClientID, url.Values{"response_type": {"code token id_token extra"}}, "unsupported_response_type"},
		{codeOnly.ClientID, url.Values{"response_type": {"id_token"}}, "unauthorized_client"},
	} {
		loc := redirect(c, authorize(tc.client, tc.q))
		got := loc.Query()
		if loc.Fragment != "" {
			got, _ = url.ParseQuery(loc.Fragment)
		}
		if got.Get("error") != tc.code {
			t.Errorf("%v: %v, want %s", tc.q, loc, tc.code)
		}
	}

	var disco struct {
		Types []string `json:"response_types_supported"`
		Modes []string `json:"response_modes_supported"`
	}
	s.call(t, "GET", "/.well-known/openid-configuration", "", nil, &disco)
	if !strings.Contains(strings.Join(disco.Types, ","), "id_token token") || !strings.Contains(strings.Join(disco.Modes, ","), "web_message") {
		t.Errorf("discovery: %+v", disco)
	}
}

// TestExpressOpenIDConnectDefaults: the request express-openid-connect
// makes with its defaults (Auth0's Express quickstart as written):
// response_type=id_token, response_mode=form_post, a nonce, for a regular
// web application as Usher makes one (whose grants include implicit). The
// login answers with a page that posts the ID token and the state to the
// callback.
func TestExpressOpenIDConnectDefaults(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	var web client
	if st := s.call(t, "POST", "/api/v2/clients", tok, map[string]any{"name": "Express app", "app_type": "regular_web",
		"callbacks": []string{"https://app.example.com/callback"}}, &web); st != http.StatusCreated {
		t.Fatalf("create the app: %d", st)
	}
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "express@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, nil)
	c := browser(t)
	st, page := get(t, c, s.URL+"/authorize?"+url.Values{"client_id": {web.ClientID}, "response_type": {"id_token"}, "response_mode": {"form_post"},
		"redirect_uri": {"https://app.example.com/callback"}, "scope": {"openid profile email"}, "nonce": {"n0nce"}, "state": {"st4te"}}.Encode())
	if st != http.StatusOK {
		t.Fatalf("login page: %d\n%s", st, page)
	}
	resp, err := c.PostForm(s.URL+"/u/login", url.Values{"_csrf": {hiddenField(page, "_csrf")}, "q": {hiddenField(page, "q")},
		"username": {"express@example.com"}, "password": {"Str0ng-Passw0rd!"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	post := string(body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(post, `action="https://app.example.com/callback"`) || hiddenField(post, "state") != "st4te" {
		t.Fatalf("form_post answer: %d\n%s", resp.StatusCode, post)
	}
	id := claimsOf(t, hiddenField(post, "id_token"))
	if id["nonce"] != "n0nce" || id["aud"] != web.ClientID || id["email"] != "express@example.com" || hiddenField(post, "code") != "" {
		t.Fatalf("the ID token posted: %v", id)
	}
}
