package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// tokenAs posts a bad client_credentials request to /oauth/token, from the
// given X-Forwarded-For, and returns the status.
func tokenAs(t *testing.T, s *testServer, forwardedFor string) int {
	t.Helper()
	return tokenFrom(t, s, forwardedFor, url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}})
}

// tokenFrom posts form to /oauth/token with the given X-Forwarded-For and
// returns the status.
func tokenFrom(t *testing.T, s *testServer, forwardedFor string, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", forwardedFor)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// exhaust sends requests from forwardedFor until one is turned away.
func exhaust(t *testing.T, s *testServer, forwardedFor string) {
	t.Helper()
	for range 100 {
		if tokenAs(t, s, forwardedFor) == http.StatusTooManyRequests {
			return
		}
	}
	t.Fatalf("100 requests from %s were never limited", forwardedFor)
}

// TestTrustedProxiesNameTheClient: behind a trusted load balancer every
// caller has its own rate limit, brute-force count and last_ip, from the
// forwarding header; without USHER_TRUSTED_PROXIES the header is ignored,
// so that a caller cannot escape its limit by writing one.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	t.Parallel()
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, sqliteDSN(t), map[string]string{"USHER_TRUSTED_PROXIES": "127.0.0.0/8"})
		exhaust(t, s, "203.0.113.1")
		if st := tokenAs(t, s, "203.0.113.2"); st == http.StatusTooManyRequests {
			t.Fatal("a second client behind the balancer was limited by the first one's requests")
		}
		// A client cannot write itself a new address to the left of what
		// the balancer appended.
		if st := tokenAs(t, s, "198.51.100.99, 203.0.113.1"); st != http.StatusTooManyRequests {
			t.Fatalf("a spoofed left part escaped the limit: %d", st)
		}

		// Wrong guesses from one address lock that address out, not the
		// person: they still log in from another, which last_ip records.
		tok := s.token(t)
		app := s.app(t, tok, nil)
		var u user
		s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "lb@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, &u)
		login := func(from, password string) int {
			return tokenFrom(t, s, from, realmForm(app, "lb@example.com", password))
		}
		for range 10 {
			login("192.0.2.66", "Wr0ng-Passw0rd!")
		}
		if st := login("192.0.2.66", "Str0ng-Passw0rd!"); st != http.StatusTooManyRequests && st != http.StatusUnauthorized && st != http.StatusForbidden {
			t.Fatalf("the guesser's address was not blocked: %d", st)
		}
		if st := login("192.0.2.10", "Str0ng-Passw0rd!"); st != http.StatusOK {
			t.Fatalf("the person was locked out by someone else's guesses: %d", st)
		}
		var after struct {
			LastIP string `json:"last_ip"`
		}
		s.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), tok, nil, &after)
		if after.LastIP != "192.0.2.10" {
			t.Fatalf("last_ip = %q; want the client's address behind the balancer", after.LastIP)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, sqliteDSN(t), nil)
		exhaust(t, s, "203.0.113.1")
		if st := tokenAs(t, s, "203.0.113.2"); st != http.StatusTooManyRequests {
			t.Fatalf("a forwarding header nobody vouches for escaped the limit: %d", st)
		}
	})
}
