package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// app makes a regular web client allowed the user grants.
func (s *testServer) app(t *testing.T, tok string, extra map[string]any) client {
	t.Helper()
	body := map[string]any{"name": "Web app", "app_type": "regular_web", "callbacks": []string{"https://app.example.com/callback"},
		"grant_types": []string{"password", "http://auth0.com/oauth/grant-type/password-realm", "authorization_code", "refresh_token"}}
	for k, v := range extra {
		body[k] = v
	}
	var c client
	if st := s.call(t, "POST", "/api/v2/clients", tok, body, &c); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	return c
}

func (s *testServer) passwordRealm(t *testing.T, c client, email, password, scope string) (int, map[string]any) {
	t.Helper()
	return s.form(t, "/oauth/token", url.Values{"grant_type": {"http://auth0.com/oauth/grant-type/password-realm"},
		"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "username": {email}, "password": {password},
		"realm": {dbConn}, "scope": {scope}})
}

func TestPasswordGrantsUserInfoAndRefresh(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		c := s.app(t, tok, nil)
		var u user
		s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "lin@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false, "name": "Lin"}, &u)

		status, body := s.passwordRealm(t, c, "LIN@example.com", "Str0ng-Passw0rd!", "openid profile email offline_access")
		if status != 200 || body["access_token"] == nil || body["id_token"] == nil || body["refresh_token"] == nil || body["expires_in"] != float64(86400) {
			t.Fatalf("password-realm: %d %v", status, body)
		}
		var jwks jose.JSONWebKeySet
		s.call(t, "GET", "/.well-known/jwks.json", "", nil, &jwks)
		idt, err := jwt.ParseSigned(body["id_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := idt.Claims(jwks.Keys[0].Key, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["iss"] != s.URL+"/" || claims["sub"] != u.UserID || claims["aud"] != c.ClientID || claims["email"] != "lin@example.com" || claims["name"] != "Lin" {
			t.Fatalf("id token claims %v", claims)
		}
		var info map[string]any
		req, _ := http.NewRequest("GET", s.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
		resp, err := s.HTTP.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("userinfo: %v %v", resp.StatusCode, err)
		}
		decodeBody(t, resp, &info)
		if info["sub"] != u.UserID || info["email"] != "lin@example.com" {
			t.Fatalf("userinfo %v", info)
		}
		// A user's access token is no Management token.
		s.wantErr(t, "GET", "/api/v2/users", body["access_token"].(string), nil, 401, "")

		st, refreshed := s.form(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "refresh_token": {body["refresh_token"].(string)}})
		if st != 200 || refreshed["access_token"] == nil || refreshed["id_token"] == nil {
			t.Fatalf("refresh: %d %v", st, refreshed)
		}

		var after user
		s.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), tok, nil, &after)
		if after.LoginsCount != 1 {
			t.Fatalf("logins_count %d", after.LoginsCount)
		}

		for _, tc := range []struct {
			email, password string
			status          int
			code            string
		}{
			{"lin@example.com", "wrong", 403, "invalid_grant"},
			{"nobody@example.com", "Str0ng-Passw0rd!", 403, "invalid_grant"},
		} {
			if st, b := s.passwordRealm(t, c, tc.email, tc.password, "openid"); st != tc.status || b["error"] != tc.code {
				t.Fatalf("%s/%s: %d %v", tc.email, tc.password, st, b)
			}
		}
		s.call(t, "PATCH", "/api/v2/users/"+url.PathEscape(u.UserID), tok, map[string]any{"blocked": true}, nil)
		if st, b := s.passwordRealm(t, c, "lin@example.com", "Str0ng-Passw0rd!", "openid"); st != 401 || b["error"] != "unauthorized" {
			t.Fatalf("blocked user: %d %v", st, b)
		}
		noGrant := s.app(t, tok, map[string]any{"grant_types": []string{"authorization_code"}})
		if st, b := s.passwordRealm(t, noGrant, "lin@example.com", "Str0ng-Passw0rd!", "openid"); st != 403 || b["error"] != "unauthorized_client" {
			t.Fatalf("client without the grant: %d %v", st, b)
		}
	})
}

func TestBruteForceProtection(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	c := s.app(t, tok, nil)
	var u user
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "eve@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, &u)
	for i := 0; i < 10; i++ {
		if st, _ := s.passwordRealm(t, c, "eve@example.com", "guess", "openid"); st != 403 {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	if st, b := s.passwordRealm(t, c, "eve@example.com", "Str0ng-Passw0rd!", "openid"); st != 429 || b["error"] != "too_many_attempts" {
		t.Fatalf("after 10 failures the right password must be refused too: %d %v", st, b)
	}
	var blocks struct {
		BlockedFor []map[string]string `json:"blocked_for"`
	}
	s.call(t, "GET", "/api/v2/user-blocks/"+url.PathEscape(u.UserID), tok, nil, &blocks)
	if len(blocks.BlockedFor) != 1 || blocks.BlockedFor[0]["ip"] != "127.0.0.1" {
		t.Fatalf("user blocks %+v", blocks)
	}
	var logs []map[string]any
	s.call(t, "GET", "/api/v2/logs?q=type:limit_wc", tok, nil, &logs)
	if len(logs) != 1 {
		t.Fatalf("limit_wc events: %v", logs)
	}
	if s.call(t, "DELETE", "/api/v2/user-blocks/"+url.PathEscape(u.UserID), tok, nil, nil) != 204 {
		t.Fatal("unblock")
	}
	if st, b := s.passwordRealm(t, c, "eve@example.com", "Str0ng-Passw0rd!", "openid"); st != 200 {
		t.Fatalf("after unblock: %d %v", st, b)
	}
	if !strings.HasPrefix(u.UserID, "auth0|") {
		t.Fatal(u.UserID)
	}
}
