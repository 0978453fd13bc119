package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestRotatingRefreshTokens: a client with rotating refresh tokens gets a
// new token at every use; a rotated token used again (a thief's copy)
// revokes its whole line, the rightful holder's newest token included,
// unless it comes within the client's leeway; a line ends after its idle
// lifetime without use, and after its absolute lifetime whatever the use.
func TestRotatingRefreshTokens(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		rotating := map[string]any{"rotation_type": "rotating", "expiration_type": "expiring", "leeway": 0,
			"token_lifetime": 3600, "infinite_token_lifetime": false, "idle_token_lifetime": 600, "infinite_idle_token_lifetime": false}
		c := s.app(t, tok, map[string]any{"refresh_token": rotating})
		s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "rot@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, nil)
		login := func() string {
			t.Helper()
			st, body := s.passwordRealm(t, c, "rot@example.com", "Str0ng-Passw0rd!", "openid offline_access")
			rt, _ := body["refresh_token"].(string)
			if st != http.StatusOK || rt == "" {
				t.Fatalf("login: %d %v", st, body)
			}
			return rt
		}
		refresh := func(rt string) (int, string) {
			t.Helper()
			st, body := s.form(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID},
				"client_secret": {c.ClientSecret}, "refresh_token": {rt}})
			next, _ := body["refresh_token"].(string)
			if st == http.StatusOK && (next == "" || next == rt || body["access_token"] == nil) {
				t.Fatalf("a rotation answered %v", body)
			}
			if st != http.StatusOK && body["error"] != "invalid_grant" {
				t.Fatalf("a refused refresh: %d %v", st, body)
			}
			return st, next
		}

		// Rotation, then a stolen copy of the first token.
		rt1 := login()
		st, rt2 := refresh(rt1)
		if st != http.StatusOK {
			t.Fatalf("first rotation: %d", st)
		}
		st, rt3 := refresh(rt2)
		if st != http.StatusOK {
			t.Fatalf("second rotation: %d", st)
		}
		if st, _ := refresh(rt1); st != http.StatusForbidden {
			t.Fatalf("a rotated token used again: %d", st)
		}
		if st, _ := refresh(rt3); st != http.StatusForbidden {
			t.Fatalf("the line's newest token after the reuse: %d, want it revoked", st)
		}
		var events []map[string]any
		if st := s.call(t, "GET", "/api/v2/logs?q=type:ferrt", tok, nil, &events); st != http.StatusOK || len(events) != 1 || events[0]["client_id"] != c.ClientID {
			t.Fatalf("the tenant log of the reuse: %d %v", st, events)
		}

		// Idle: ten minutes without use end the line.
		rt := login()
		s.Clock.Advance(11 * time.Minute)
		if st, _ := refresh(rt); st != http.StatusForbidden {
			t.Fatalf("after 11 idle minutes: %d", st)
		}
		// Absolute: an hour from the login, however often it is used.
		rt = login()
		for i := range 6 {
			s.Clock.Advance(9 * time.Minute)
			if st, rt = refresh(rt); st != http.StatusOK {
				t.Fatalf("use %d within the line's hour: %d", i, st)
			}
		}
		s.Clock.Advance(9 * time.Minute) // 63 minutes after the login
		if st, _ := refresh(rt); st != http.StatusForbidden {
			t.Fatalf("past the line's absolute lifetime: %d", st)
		}

		// Leeway: a retry within 30 s of the rotation is no theft.
		rotating["leeway"] = 30
		if st := s.call(t, "PATCH", "/api/v2/clients/"+c.ClientID, tok, map[string]any{"refresh_token": rotating}, nil); st != http.StatusOK {
			t.Fatalf("set a leeway: %d", st)
		}
		rtC := login()
		_, rtD := refresh(rtC)
		s.Clock.Advance(10 * time.Second)
		if st, _ := refresh(rtC); st != http.StatusOK {
			t.Fatalf("a retry within the leeway: %d", st)
		}
		s.Clock.Advance(time.Minute)
		if st, _ := refresh(rtC); st != http.StatusForbidden {
			t.Fatalf("a reuse past the leeway: %d", st)
		}
		if st, _ := refresh(rtD); st != http.StatusForbidden {
			t.Fatalf("the line after a reuse past the leeway: %d", st)
		}

		// Rotation needs expiring tokens, as on Auth0.
		if st := s.call(t, "PATCH", "/api/v2/clients/"+c.ClientID, tok, map[string]any{"refresh_token": map[string]any{
			"rotation_type": "rotating", "expiration_type": "non-expiring"}}, nil); st != http.StatusBadRequest {
			t.Fatalf("rotating and non-expiring: %d", st)
		}
		var got struct {
			RefreshToken map[string]any `json:"refresh_token"`
		}
		s.call(t, "GET", "/api/v2/clients/"+c.ClientID, tok, nil, &got)
		if got.RefreshToken["rotation_type"] != "rotating" || got.RefreshToken["leeway"] != float64(30) {
			t.Fatalf("the client's refresh_token: %v", got.RefreshToken)
		}
	})
}
