package main

// The dashboard end to end: administrators made with `usher admin invite`
// sign in through the hosted login; plain HTTP checks what every route
// refuses, and Chromium clicks through what a person does.

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/dashboard"
)

const adminPassword = "Adm1n-Passw0rd!"

// adminInvite runs `usher admin invite --db` and returns the link it printed.
func adminInvite(t *testing.T, dsn, publicURL, email string) string {
	t.Helper()
	var out, errOut strings.Builder
	err := run(context.Background(), []string{"usher", "admin", "invite", "--db", dsn, "--public-url", publicURL, email},
		func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	if err != nil {
		t.Fatalf("usher admin invite: %v\n%s%s", err, out.String(), errOut.String())
	}
	link := regexp.MustCompile(`(?m)^  (http\S+)$`).FindStringSubmatch(out.String())
	if link == nil {
		t.Fatalf("usher admin invite printed no link:\n%s", out.String())
	}
	return link[1]
}

// dashUser is a browser-like HTTP client signed in to the dashboard.
type dashUser struct {
	t  *testing.T
	s  *testServer
	c  *http.Client
	id string
}

// hiddenField reads a hidden form field of a page.
func hiddenField(page, name string) string {
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// signIn opens the dashboard in a fresh cookie jar and logs in on the
// hosted page, following every redirect as a browser does.
func signIn(t *testing.T, s *testServer, email, password string) *dashUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.Get(s.URL + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/authorize" {
		t.Fatalf("the dashboard did not send to the login page: %d %s", resp.StatusCode, resp.Request.URL)
	}
	resp, err = c.PostForm(s.URL+"/u/login", url.Values{"_csrf": {hiddenField(string(page), "_csrf")}, "q": {hiddenField(string(page), "q")},
		"username": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/dashboard/" {
		t.Fatalf("login ended at %s (%d), not the dashboard", resp.Request.URL, resp.StatusCode)
	}
	return &dashUser{t: t, s: s, c: c}
}

// get fetches a dashboard path and returns the status and the page.
func (u *dashUser) get(path string) (int, string) {
	u.t.Helper()
	resp, err := u.c.Get(u.s.URL + path)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// csrf is the token the dashboard's forms carry for this browser.
func (u *dashUser) csrf() string {
	u.t.Helper()
	_, page := u.get("/dashboard/signed-out")
	base, _ := url.Parse(u.s.URL)
	for _, c := range u.c.Jar.Cookies(base) {
		if c.Name == "usher_csrf" {
			return c.Value
		}
	}
	u.t.Fatalf("no CSRF cookie:\n%s", page)
	return ""
}

// post submits a form without following the redirect it answers with.
func (u *dashUser) post(path string, form url.Values) (int, string) {
	u.t.Helper()
	c := *u.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(u.s.URL+path, form)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// newAdmin makes an administrator with `usher admin invite`, accepts the
// invitation and signs them in.
func newAdmin(t *testing.T, s *testServer, dsn, email string) *dashUser {
	t.Helper()
	link := adminInvite(t, dsn, s.URL, email)
	if resp, body := setPassword(t, browser(t), s.URL, link, adminPassword); resp.StatusCode != 200 {
		t.Fatalf("accept the admin's invitation: %d\n%s", resp.StatusCode, body)
	}
	u := signIn(t, s, email, adminPassword)
	var found []user
	s.call(t, "GET", "/api/v2/users-by-email?email="+url.QueryEscape(email), s.token(t), nil, &found)
	u.id = found[0].UserID
	return u
}

// concrete turns a route pattern into a path that reaches it.
func concrete(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	path = strings.NewReplacer("{$}", "", "{id}", "someid", "{name}", "reset_email", "{trigger}", "post-login").Replace(path)
	return method, path
}

func TestDashboardAccess(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		admin := newAdmin(t, s, dsn, "root@example.com")
		if st, page := admin.get("/dashboard/"); st != 200 || !strings.Contains(page, "Invitations per day") {
			t.Fatalf("the admin's home page: %d\n%s", st, page)
		}

		// Someone without usher:admin signs in and is refused, on every route.
		if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "member@example.com",
			"password": adminPassword, "verify_email": false}, nil); st != 201 {
			t.Fatalf("create member: %d", st)
		}
		member := signIn(t, s, "member@example.com", adminPassword)
		token := member.csrf()
		open := map[string]bool{}
		for _, p := range dashboard.Open {
			open[p] = true
		}
		routes := dashboard.New(dashboard.Options{}).Routes()
		if len(routes) < 30 {
			t.Fatalf("only %d routes", len(routes))
		}
		for _, pattern := range routes {
			if open[pattern] {
				continue
			}
			method, path := concrete(pattern)
			var st int
			var page string
			if method == "GET" {
				st, page = member.get(path)
			} else {
				st, page = member.post(path, url.Values{"_csrf": {token}})
			}
			if st != http.StatusForbidden || !strings.Contains(page, "Not an administrator") {
				t.Errorf("%s as a member: %d, want 403 and the refusal page", pattern, st)
			}
		}
		// A page nobody has is also refused to them, not revealed.
		if st, _ := member.get("/dashboard/no/such/page"); st != http.StatusForbidden {
			t.Errorf("unknown page as a member: %d", st)
		}

		// Without a session a page leads to the login; a form is refused.
		anon := &dashUser{t: t, s: s, c: browser(t)}
		if st, _ := anon.get("/dashboard/users"); st != http.StatusFound {
			t.Errorf("signed-out GET: %d, want a redirect to the login", st)
		}
		if st, _ := anon.post("/dashboard/invitations", url.Values{"emails": {"x@example.com"}}); st != http.StatusForbidden {
			t.Errorf("signed-out POST: %d", st)
		}

		// CSRF: a form without the token, or with another, is refused and does nothing.
		for _, form := range []url.Values{{"emails": {"csrf@example.com"}}, {"emails": {"csrf@example.com"}, "_csrf": {"forged-token-forged-token-forged-token"}}} {
			if st, page := admin.post("/dashboard/invitations", form); st != http.StatusForbidden || !strings.Contains(page, "This form expired") {
				t.Fatalf("POST without a good CSRF token: %d\n%s", st, page)
			}
		}
		var invs struct{ Total int }
		s.call(t, "GET", "/usher/v1/invitations?email=csrf@example.com&include_totals=true", tok, nil, &invs)
		if invs.Total != 0 {
			t.Fatal("a refused form invited someone")
		}
		// With the token it works, and shows the link this once.
		st, page := admin.post("/dashboard/invitations", url.Values{"_csrf": {admin.csrf()}, "emails": {"csrf@example.com, second@example.com"}})
		if st != 200 || strings.Count(page, "/lo/reset?ticket=") != 2 {
			t.Fatalf("invite two: %d\n%s", st, page)
		}

		// Permission taken away through the API: the next request is refused.
		adminPerm := map[string]any{"permissions": []map[string]string{{"resource_server_identifier": s.URL + "/api/v2/", "permission_name": "usher:admin"}}}
		if st := s.call(t, "DELETE", "/api/v2/users/"+url.PathEscape(admin.id)+"/permissions", tok, adminPerm, nil); st != 204 {
			t.Fatalf("remove permission: %d", st)
		}
		if st, _ := admin.get("/dashboard/"); st != http.StatusForbidden {
			t.Fatalf("after losing usher:admin: %d", st)
		}
		if st := s.call(t, "POST", "/api/v2/users/"+url.PathEscape(admin.id)+"/permissions", tok, adminPerm, nil); st != 201 {
			t.Fatalf("grant permission: %d", st)
		}
		if st, _ := admin.get("/dashboard/"); st != http.StatusOK {
			t.Fatalf("with usher:admin again: %d", st)
		}

		// Signing out ends the session.
		if st, _ := admin.post("/dashboard/signout", url.Values{"_csrf": {admin.csrf()}}); st != http.StatusSeeOther {
			t.Fatalf("sign out: %d", st)
		}
		c := *admin.c
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(s.URL + "/dashboard/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/authorize?") {
			t.Fatalf("after signing out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

func TestDashboardMetadataValidation(t *testing.T) {
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	tok := s.token(t)
	var u user
	if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "meta@example.com", "verify_email": false,
		"app_metadata": map[string]any{"plan": "pro", "seats": 3}, "user_metadata": map[string]any{"lang": "fr"}}, &u); st != 201 {
		t.Fatalf("create: %d", st)
	}
	admin := newAdmin(t, s, dsn, "meta-admin@example.com")
	path := "/dashboard/users/" + url.PathEscape(u.UserID) + "/metadata"
	for _, tc := range []struct{ app, user, want string }{
		{`{"plan": "pro", `, `{"lang": "de"}`, "app_metadata is not valid JSON"},
		{`{"plan": "pro"}`, `["not", "an", "object"]`, "user_metadata must be a JSON object"},
		{`{"plan": "pro"} {}`, `{}`, "app_metadata has something after the JSON object"},
		{`{"email": "x"}`, `{}`, "email is a reserved property name"},
	} {
		st, page := admin.post(path, url.Values{"_csrf": {admin.csrf()}, "app_metadata": {tc.app}, "user_metadata": {tc.user}})
		if st != http.StatusBadRequest || !strings.Contains(page, tc.want) || !strings.Contains(page, html.EscapeString(tc.app)) ||
			!strings.Contains(page, html.EscapeString(tc.user)) || !strings.Contains(page, "Nothing was saved") {
			t.Fatalf("bad metadata %q / %q: %d; want 400 saying %q and keeping the text\n%s", tc.app, tc.user, st, tc.want, page)
		}
		var after user
		s.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), tok, nil, &after)
		if fmt.Sprint(after.AppMetadata) != "map[plan:pro seats:3]" || fmt.Sprint(after.UserMetadata) != "map[lang:fr]" {
			t.Fatalf("refused metadata changed the user: %v %v", after.AppMetadata, after.UserMetadata)
		}
	}
	// Good JSON replaces both: a key left out is gone.
	st, _ := admin.post(path, url.Values{"_csrf": {admin.csrf()}, "app_metadata": {`{"plan": "team", "nested": {"a": [1, 2]}}`}, "user_metadata": {``}})
	if st != http.StatusSeeOther {
		t.Fatalf("good metadata: %d", st)
	}
	var after user
	s.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), tok, nil, &after)
	if fmt.Sprint(after.AppMetadata) != "map[nested:map[a:[1 2]] plan:team]" || len(after.UserMetadata) != 0 {
		t.Fatalf("saved metadata: %v %v", after.AppMetadata, after.UserMetadata)
	}
}
