package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// What a password change, a block or a deletion does to the logins a person
// already has: browser sessions, refresh tokens, authorization codes not yet
// exchanged, and (for blocked or deleted users) /userinfo.

const (
	oldPassword = "Str0ng-Passw0rd!"
	newPassword = "An0ther-Passw0rd!"
	callbackURL = "https://app.example.com/callback"
)

// logins is everything one person holds after logging in a few ways.
type logins struct {
	refresh     string       // from the password-realm grant
	access      string       // from the password-realm grant, good for /userinfo
	codeRefresh string       // from the authorization-code grant
	browser     *http.Client // holds the hosted login's session cookie
	code        string       // an authorization code not exchanged yet
}

// sessionsApp is a confidential web app allowed every user grant.
func sessionsApp(t *testing.T, s *testServer, tok string) client {
	t.Helper()
	return s.app(t, tok, nil)
}

func (s *testServer) authorizeURL(c client, prompt string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {c.ClientID}, "redirect_uri": {callbackURL},
		"scope": {"openid email offline_access"}, "state": {"s"}}
	if prompt != "" {
		q.Set("prompt", prompt)
	}
	return s.URL + "/authorize?" + q.Encode()
}

// hostedLogin logs in on the hosted page in a fresh browser and returns the
// browser (with its session cookie) and the code sent to the app.
func (s *testServer) hostedLogin(t *testing.T, c client, email, password string) (*http.Client, string) {
	t.Helper()
	br := browser(t)
	st, page := get(t, br, s.authorizeURL(c, ""))
	if st != 200 || csrfField.FindStringSubmatch(page) == nil {
		t.Fatalf("login page: %d\n%s", st, page)
	}
	q := html.UnescapeString(queryField.FindStringSubmatch(page)[1])
	resp, err := br.PostForm(s.URL+"/u/login", url.Values{"_csrf": {csrfField.FindStringSubmatch(page)[1]}, "q": {q},
		"username": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("hosted login as %s: %d %v", email, resp.StatusCode, loc)
	}
	return br, loc.Query().Get("code")
}

// silent asks /authorize with prompt=none in br and returns the code, or
// the error the app is sent back.
func (s *testServer) silent(t *testing.T, br *http.Client, c client) (code, errCode string) {
	t.Helper()
	resp, err := br.Get(s.authorizeURL(c, "none"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Host != "app.example.com" {
		t.Fatalf("prompt=none: %d %v", resp.StatusCode, loc)
	}
	return loc.Query().Get("code"), loc.Query().Get("error")
}

func (s *testServer) exchange(t *testing.T, c client, code string) (int, map[string]any) {
	t.Helper()
	return s.form(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "code": {code}, "redirect_uri": {callbackURL}})
}

func (s *testServer) refresh(t *testing.T, c client, token string) (int, map[string]any) {
	t.Helper()
	return s.form(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "refresh_token": {token}})
}

func (s *testServer) userInfo(t *testing.T, access string) (int, map[string]any) {
	t.Helper()
	var out map[string]any
	return s.call(t, "GET", "/userinfo", access, nil, &out), out
}

// logIn gets a person every kind of login, and checks that each works.
func (s *testServer) logIn(t *testing.T, c client, email, password string) logins {
	t.Helper()
	var l logins
	st, body := s.passwordRealm(t, c, email, password, "openid email offline_access")
	if st != 200 || body["refresh_token"] == nil {
		t.Fatalf("password-realm as %s: %d, scope %v, error %v", email, st, body["scope"], body["error"])
	}
	l.refresh, l.access = body["refresh_token"].(string), body["access_token"].(string)
	var code string
	l.browser, code = s.hostedLogin(t, c, email, password)
	st, body = s.exchange(t, c, code)
	if st != 200 || body["refresh_token"] == nil {
		t.Fatalf("code exchange: %d, scope %v, error %v", st, body["scope"], body["error"])
	}
	l.codeRefresh = body["refresh_token"].(string)
	if l.code, _ = s.silent(t, l.browser, c); l.code == "" {
		t.Fatal("a live session must log in silently")
	}
	for _, rt := range []string{l.refresh, l.codeRefresh} {
		if st, body := s.refresh(t, c, rt); st != 200 {
			t.Fatalf("refresh before: %d %v", st, body)
		}
	}
	if st, body := s.userInfo(t, l.access); st != 200 {
		t.Fatalf("userinfo before: %d %v", st, body)
	}
	return l
}

// wantLoggedOut checks that nothing of l works any more: the refresh tokens
// are refused (with one of refreshWant, invalid_grant when none is given),
// the unexchanged code gives invalid_grant, and the session cookie no longer
// logs in silently nor skips the login form.
func (s *testServer) wantLoggedOut(t *testing.T, c client, l logins, refreshWant ...string) {
	t.Helper()
	if len(refreshWant) == 0 {
		refreshWant = []string{"invalid_grant"}
	}
	for name, rt := range map[string]string{"password grant": l.refresh, "code grant": l.codeRefresh} {
		st, body := s.refresh(t, c, rt)
		if st < 400 || st >= 500 || !contains(refreshWant, fmt.Sprint(body["error"])) {
			t.Errorf("old refresh token (%s): %d %v, want one of %v", name, st, body["error"], refreshWant)
		}
	}
	if st, body := s.exchange(t, c, l.code); st != 403 || body["error"] != "invalid_grant" {
		t.Errorf("code issued before: %d %v", st, body["error"])
	}
	if code, e := s.silent(t, l.browser, c); code != "" || e != "login_required" {
		t.Errorf("old session, prompt=none: code %q error %q, want login_required", code, e)
	}
	if st, page := get(t, l.browser, s.authorizeURL(c, "")); st != 200 || !strings.Contains(page, `name="password"`) {
		t.Errorf("old session must see the login form again: %d", st)
	}
}

// loggedInUser creates a user with oldPassword and logs them in to c.
func (s *testServer) loggedInUser(t *testing.T, tok string, c client, email string) (user, logins) {
	t.Helper()
	var u user
	if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": email, "password": oldPassword, "verify_email": false}, &u); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	return u, s.logIn(t, c, email, oldPassword)
}

// wantFreshLogin checks that a new login with password works end to end.
func (s *testServer) wantFreshLogin(t *testing.T, c client, email, password string) {
	t.Helper()
	l := s.logIn(t, c, email, password)
	if code, _ := s.silent(t, l.browser, c); code == "" {
		t.Fatal("a new session logs in silently")
	}
}

func TestPasswordChangeEndsEarlierSessionsAndRefreshTokens(t *testing.T) {
	t.Parallel()
	ways := map[string]func(t *testing.T, s *testServer, tok string, u user){
		"ticket link": func(t *testing.T, s *testServer, tok string, u user) {
			var out struct{ Ticket string }
			if st := s.call(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"user_id": u.UserID, "result_url": "https://app.example.com/"}, &out); st != 201 {
				t.Fatalf("ticket: %d", st)
			}
			if resp, body := setPassword(t, browser(t), s.URL, out.Ticket, newPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("set password: %d %s", resp.StatusCode, body)
			}
		},
		"management api": func(t *testing.T, s *testServer, tok string, u user) {
			if st := s.call(t, "PATCH", "/api/v2/users/"+url.PathEscape(u.UserID), tok, map[string]any{"password": newPassword, "connection": dbConn}, nil); st != 200 {
				t.Fatalf("PATCH password: %d", st)
			}
		},
	}
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		c := sessionsApp(t, s, tok)
		for way, change := range ways {
			t.Run(way, func(t *testing.T) {
				email := strings.ReplaceAll(way, " ", "-") + "@example.com"
				u, l := s.loggedInUser(t, tok, c, email)
				change(t, s, tok, u)
				s.wantLoggedOut(t, c, l)
				if st, body := s.passwordRealm(t, c, email, oldPassword, "openid"); st != 403 {
					t.Fatalf("the old password: %d %v", st, body)
				}
				s.wantFreshLogin(t, c, email, newPassword)
			})
		}
	})
}

// TestImportedPasswordEndsEarlierLogins: an import that upserts a user's
// password hash is a password change too.
func TestImportedPasswordEndsEarlierLogins(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		c := sessionsApp(t, s, tok)
		email := "imported@example.com"
		_, l := s.loggedInUser(t, tok, c, email)
		hash, _ := bcrypt.GenerateFromPassword([]byte(newPassword), bcrypt.MinCost)
		file := fmt.Sprintf(`[{"email":%q,"password_hash":%q}]`, email, hash)
		st, job, e := s.postImport(t, tok, []byte(file), "users.json", map[string]string{"connection_id": s.connectionID(t, tok), "upsert": "true"})
		if st != 202 {
			t.Fatalf("import: %d %+v", st, e)
		}
		if job = s.waitJob(t, tok, job.ID); job.Status != "completed" || job.Summary.Updated != 1 {
			t.Fatalf("import job: %+v", job)
		}
		s.wantLoggedOut(t, c, l)
		s.wantFreshLogin(t, c, email, newPassword)
	})
}

func TestBlockedUserIsRefusedEverywhereAndLogsInAgainAfterUnblock(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		c := sessionsApp(t, s, tok)
		email := "blocked@example.com"
		u, l := s.loggedInUser(t, tok, c, email)
		patch := func(blocked bool) {
			if st := s.call(t, "PATCH", "/api/v2/users/"+url.PathEscape(u.UserID), tok, map[string]any{"blocked": blocked}, nil); st != 200 {
				t.Fatalf("PATCH blocked=%v: %d", blocked, st)
			}
		}
		patch(true)
		s.wantLoggedOut(t, c, l, "invalid_grant", "unauthorized")
		st, body := s.userInfo(t, l.access)
		if st != 401 || body["error"] != "invalid_token" || body["error_description"] == "" {
			t.Fatalf("userinfo of a blocked user: %d %v", st, body)
		}
		if st, body := s.passwordRealm(t, c, email, oldPassword, "openid"); st != 401 || body["error"] != "unauthorized" {
			t.Fatalf("login while blocked: %d %v", st, body)
		}

		// Unblocking lets the person log in again; what they held before
		// the block stays revoked.
		patch(false)
		s.wantLoggedOut(t, c, l)
		s.wantFreshLogin(t, c, email, oldPassword)
	})
}

func TestDeletedUserIsRefused(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		c := sessionsApp(t, s, tok)
		email := "deleted@example.com"
		u, l := s.loggedInUser(t, tok, c, email)
		if st := s.call(t, "DELETE", "/api/v2/users/"+url.PathEscape(u.UserID), tok, nil, nil); st != 204 {
			t.Fatalf("delete: %d", st)
		}
		s.wantLoggedOut(t, c, l)
		if st, body := s.userInfo(t, l.access); st != 401 || body["error"] != "invalid_token" {
			t.Fatalf("userinfo of a deleted user: %d %v", st, body)
		}
	})
}
