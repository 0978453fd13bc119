package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestMalformedBytesAreNeverAServerError sends ids, query values and form
// fields holding invalid UTF-8 or NUL, which PostgreSQL refuses in text,
// and a broken chunked body: each gets a 4xx in the endpoint's own shape,
// and the server goes on answering.
func TestMalformedBytesAreNeverAServerError(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/api/v2/users/%FF%FE", 404},
			{"GET", "/api/v2/users/auth0%7C%00", 404},
			{"PATCH", "/api/v2/users/%FF", 404},
			{"DELETE", "/api/v2/users/%00", 204}, // as for any unknown id
			{"GET", "/api/v2/clients/%FF", 404},
			{"GET", "/api/v2/connections/%C3%28", 404},
			{"GET", "/api/v2/actions/actions/%FF", 404},
			{"GET", "/usher/v1/invitations/%FF", 404},
			{"GET", "/api/v2/jobs/%00/errors", 404},
			{"GET", "/api/v2/jobs/%FF", 404},
			{"GET", "/api/v2/users-by-email?email=%FF%40example.com", 200},
			{"GET", "/api/v2/logs?q=user_id%3A%FF", 200},
			{"GET", "/api/v2/client-grants?client_id=%00", 200},
		} {
			body := any(nil)
			if tc.method == "PATCH" {
				body = map[string]any{"name": "x"}
			}
			if st := s.call(t, tc.method, tc.path, tok, body, nil); st != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, st, tc.want)
			}
		}

		for _, v := range []url.Values{
			{"grant_type": {"client_credentials"}, "client_id": {"\xff\xfe"}, "client_secret": {"x"}},
			{"grant_type": {"client_credentials"}, "client_id": {"a\x00b"}, "client_secret": {"x"}},
			{"grant_type": {"http://auth0.com/oauth/grant-type/password-realm"}, "client_id": {"\xff"}, "username": {"\x00"}, "password": {"x"}, "realm": {"\xff"}},
		} {
			if st, body := s.form(t, "/oauth/token", v); st != 401 && st != 400 && st != 403 {
				t.Errorf("POST /oauth/token %q: %d %v", v.Encode(), st, body)
			}
		}
		if st, _ := s.form(t, "/dbconnections/change_password", url.Values{"email": {"a\x00@example.com"}, "connection": {"\xff"}}); st != 400 {
			t.Errorf("change_password with NUL and bad UTF-8: %d, want 400", st)
		}
		if resp, err := s.HTTP.Get(s.URL + "/authorize?client_id=%FF&response_type=code&redirect_uri=https%3A%2F%2Fa.example%2F"); err != nil || resp.StatusCode != 400 {
			t.Errorf("/authorize with a bad client_id: %v %v", resp.Status, err)
		} else {
			resp.Body.Close()
		}

		// Addresses SMTP cannot carry, or that hold bytes that are not text.
		for _, email := range []string{strings.Repeat("a", 65) + "@example.com", "\xffa@example.com", "a@\xfe.example.com"} {
			if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": email}, nil); st != 400 {
				t.Errorf("create user %q: %d, want 400", email, st)
			}
		}
		if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": strings.Repeat("a", 64) + "@example.com"}, nil); st != 201 {
			t.Errorf("a 64-octet local part: %d, want 201", st)
		}

		// A chunked body that breaks off in the middle of a chunk.
		if st := rawChunked(t, s, tok); st != 400 {
			t.Errorf("a broken chunked body: %d, want 400", st)
		}
		if st := s.call(t, "GET", "/api/v2/users", tok, nil, nil); st != 200 {
			t.Fatalf("the server after the malformed requests: %d", st)
		}
	})
}

// rawChunked sends a user creation whose chunked body declares more than it
// sends, then ends, and returns the status of the answer.
func rawChunked(t *testing.T, s *testServer, tok string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v2/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", tok)
	fmt.Fprintf(c, "10\r\n{\"email\":\"a@b\"\r\nzz\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
