package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCrossOriginCalls: a page of an origin some client lists (web_origins,
// allowed_origins, a subdomain wildcard, a callback's origin) may call the
// token endpoint, userinfo and the database connection's endpoints from a
// browser, preflight and all; any other origin gets no CORS headers, and
// the Management API none at all.
func TestCrossOriginCalls(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	s.app(t, tok, map[string]any{"app_type": "spa", "web_origins": []string{"https://spa.example.com"},
		"allowed_origins": []string{"https://*.tenant.example.com"}, "callbacks": []string{"https://cb.example.com/callback"}})

	preflight := func(path, origin, headers string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("OPTIONS", s.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/oauth/token", "/userinfo", "/dbconnections/signup", "/dbconnections/change_password"} {
		for _, origin := range []string{"https://spa.example.com", "https://acme.tenant.example.com", "https://cb.example.com"} {
			resp := preflight(path, origin, "auth0-client,content-type") // sorted, as browsers send them
			h := resp.Header
			if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "auth0-client") {
				t.Errorf("preflight of %s from %s: %d %v", path, origin, resp.StatusCode, h)
			}
		}
		for _, origin := range []string{"https://evil.example.com", "https://tenant.example.com", "http://spa.example.com", "null"} {
			if resp := preflight(path, origin, "content-type"); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode >= 500 {
				t.Errorf("preflight of %s from %s: %d, allowed", path, origin, resp.StatusCode)
			}
		}
	}
	if resp := preflight("/api/v2/users", "https://spa.example.com", "authorization"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the Management API answered CORS: %v", resp.Header)
	}

	// The call itself carries the origin back, and varies by it.
	req, _ := http.NewRequest("POST", s.URL+"/dbconnections/change_password", strings.NewReader(url.Values{
		"client_id": {"nobody"}, "email": {"someone@example.com"}, "connection": {dbConn}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://spa.example.com")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example.com" || !strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Errorf("change_password from the app: %d %v", resp.StatusCode, resp.Header)
	}

	// An origin added to a client counts at once on this instance.
	if resp := preflight("/oauth/token", "https://later.example.com", "content-type"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("an unlisted origin was allowed")
	}
	s.app(t, tok, map[string]any{"app_type": "spa", "web_origins": []string{"https://later.example.com"}})
	if resp := preflight("/oauth/token", "https://later.example.com", "content-type"); resp.Header.Get("Access-Control-Allow-Origin") != "https://later.example.com" {
		t.Errorf("a new client's origin: %v", resp.Header)
	}

	// What is not an origin is refused when a client is written.
	if st := s.call(t, "POST", "/api/v2/clients", tok, map[string]any{"name": "Bad", "web_origins": []string{"https://app.example.com/path"}}, nil); st != http.StatusBadRequest {
		t.Errorf("a web origin with a path: %d", st)
	}
}
