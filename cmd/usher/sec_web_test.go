package main

// The browser-facing guards end to end: the security headers of every page
// Usher serves, forms posted from other sites, CSRF tokens bound to the
// session, and __Host- cookies over HTTPS.

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fetched is one answer of the header walk.
type fetched struct {
	name   string
	status int
	header http.Header
	body   string
}

// fetch sends a request in c without following a redirect; form, when not
// nil, is posted.
func fetch(t *testing.T, c *http.Client, name, method, link string, form url.Values, header map[string]string) fetched {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, link, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := nc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{name: name, status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// wantPageHeaders checks what every HTML page must carry; referrer is the
// Referrer-Policy it must have ("" for any).
func wantPageHeaders(t *testing.T, f fetched, wantStatus int, referrer string) {
	t.Helper()
	if f.status != wantStatus {
		t.Errorf("%s: status %d, want %d\n%.400s", f.name, f.status, wantStatus, f.body)
	}
	if !strings.HasPrefix(f.header.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type %q, want an HTML page", f.name, f.header.Get("Content-Type"))
	}
	csp := f.header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "form-action 'self'", "default-src ", "base-uri "} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", f.name, csp, want)
		}
	}
	if got := f.header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q, want DENY", f.name, got)
	}
	if got := f.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", f.name, got)
	}
	if got := f.header.Get("Referrer-Policy"); got == "" || (referrer != "" && got != referrer) {
		t.Errorf("%s: Referrer-Policy %q, want %q", f.name, got, referrer)
	}
}

// TestSecurityHeadersOnEveryPage walks every kind of HTML page Usher
// serves, Usher's own and the tenant's custom ones, and the JSON APIs. The
// headers do not depend on the database: SQLite only.
func TestSecurityHeadersOnEveryPage(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	m := mgmtAPI{t, s, s.token(t)}
	app := s.app(t, m.tok, map[string]any{"callbacks": []string{"https://app.example.com/callback"}})
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "lin@example.com", "password": browserStrongPassword, "verify_email": false}, 201, nil)
	var lin user
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "mo@example.com", "verify_email": false}, 201, &lin)
	ticket := func(path string) string {
		t.Helper()
		var out struct{ Ticket string }
		m.must("POST", path, map[string]any{"user_id": lin.UserID, "result_url": "https://app.example.com/welcome"}, 201, &out)
		return out.Ticket
	}
	authorize := s.URL + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {"https://app.example.com/callback"}, "scope": {"openid"}, "state": {"s"}}.Encode()
	c := browser(t)

	var pages []fetched
	walk := func(name, method, link string, form url.Values, status int) fetched {
		t.Helper()
		f := fetch(t, c, name, method, link, form, nil)
		wantPageHeaders(t, f, status, "no-referrer")
		pages = append(pages, f)
		return f
	}
	login := walk("login page", "GET", authorize, nil, 200)
	if csp := login.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("the login page's policy %q does not let the login redirect to the application", csp)
	}
	walk("login page, unknown redirect_uri", "GET", strings.Replace(authorize, "app.example.com", "evil.example.com", 1), nil, 400)
	walk("login form expired", "POST", s.URL+"/u/login", url.Values{"q": {strings.TrimPrefix(authorize, s.URL+"/authorize?")}, "username": {"lin@example.com"}}, 403)
	walk("sign-up page", "GET", s.URL+"/u/signup?"+strings.TrimPrefix(authorize, s.URL+"/authorize?"), nil, 200)
	fp := walk("form_post answer", "POST", s.URL+"/u/login", url.Values{"_csrf": {hiddenField(login.body, "_csrf")},
		"q": {hiddenField(login.body, "q") + "&response_mode=form_post"}, "username": {"lin@example.com"}, "password": {browserStrongPassword}}, 200)
	if !strings.Contains(fp.header.Get("Content-Security-Policy"), "https://app.example.com") {
		t.Errorf("the form_post page's policy %q does not let its form reach the application", fp.header.Get("Content-Security-Policy"))
	}
	reset := walk("reset page", "GET", ticket("/api/v2/tickets/password-change"), nil, 200)
	if !strings.Contains(reset.header.Get("Content-Security-Policy"), "https://app.example.com") {
		t.Errorf("the reset page's policy %q does not let the form redirect to result_url", reset.header.Get("Content-Security-Policy"))
	}
	walk("reset form refused", "POST", s.URL+"/lo/reset", url.Values{"ticket": {"nope"}, "newPassword": {"x"}, "confirmNewPassword": {"x"}}, 403)
	walk("dead reset link", "GET", s.URL+"/lo/reset?ticket=nope", nil, 404)
	walk("verification page", "GET", ticket("/api/v2/tickets/email-verification"), nil, 200)
	walk("dead verification link", "GET", s.URL+"/u/email-verification?ticket=nope", nil, 404)
	walk("logged out", "GET", s.URL+"/v2/logout", nil, 200)

	// The tenant's own pages run their own inline scripts (by the answer's
	// nonce) and load from the sources the tenant declares; a script that a
	// value shown on the page brings in gets no nonce. They still refuse
	// frames and foreign forms.
	m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"usher_page_sources": []string{"https://cdn.example.com"},
		"friendly_name": "ACME<script>steal()</script>"}, 200, nil)
	tenantPolicy := func(f fetched) {
		t.Helper()
		csp := f.header.Get("Content-Security-Policy")
		nonce := regexp.MustCompile(`script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})' https://cdn.example.com;`).FindStringSubmatch(csp)
		if nonce == nil || !strings.Contains(csp, "https://app.example.com") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
			t.Fatalf("%s: policy %q", f.name, csp)
		}
		if !strings.Contains(f.body, `<script nonce="`+nonce[1]+`">mine()`) || !strings.Contains(f.body, "<script>steal()") {
			t.Errorf("%s: the template's script has the nonce, the smuggled one none:\n%s", f.name, f.body)
		}
	}
	m.must("PUT", "/api/v2/branding/templates/universal-login", map[string]any{"template": strings.Replace(browserULTemplate,
		"</body>", "<p>{{ tenant.friendly_name }}</p><script>mine()</script></body>", 1)}, 201, nil)
	tenantPolicy(walk("custom Universal Login page", "GET", authorize+"&prompt=login", nil, 200))
	walk("custom Universal Login reset page", "GET", ticket("/api/v2/tickets/password-change"), nil, 200)
	m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"change_password": map[string]any{"enabled": true,
		"html": strings.Replace(browserClassicPage, "</body>", "<p>{{ tenant.friendly_name }}</p><script>mine()</script></body>", 1)}}, 200, nil)
	classic := walk("classic reset page", "GET", ticket("/api/v2/tickets/password-change"), nil, 200)
	if !strings.Contains(classic.body, "ACME accounts") {
		t.Fatalf("not the classic page:\n%s", classic.body)
	}
	tenantPolicy(classic)

	// The dashboard, signed in and not.
	admin := newAdmin(t, s, dsn, "root@example.com")
	for _, path := range []string{"/dashboard/", "/dashboard/users", "/dashboard/invitations", "/dashboard/mail", "/dashboard/mail/outbox",
		"/dashboard/actions", "/dashboard/logs", "/dashboard/no-such-page"} {
		f := fetch(t, admin.c, "dashboard "+path, "GET", s.URL+path, nil, nil)
		wantPageHeaders(t, f, map[bool]int{true: 404, false: 200}[strings.Contains(path, "no-such")], "")
	}
	wantPageHeaders(t, fetch(t, browser(t), "dashboard signed out", "GET", s.URL+"/dashboard/signed-out", nil, nil), 200, "")
	wantPageHeaders(t, fetch(t, browser(t), "dashboard form without session", "POST", s.URL+"/dashboard/invitations", url.Values{}, nil), 403, "")

	// JSON answers are nosniff too.
	for _, f := range []fetched{
		fetch(t, c, "token error", "POST", s.URL+"/oauth/token", url.Values{"grant_type": {"nope"}}, nil),
		fetch(t, c, "Management API without a token", "GET", s.URL+"/api/v2/users", nil, nil),
		fetch(t, c, "discovery", "GET", s.URL+"/.well-known/openid-configuration", nil, nil),
	} {
		if f.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", f.name, f.header.Get("X-Content-Type-Options"))
		}
	}
}

// csrfPage opens the hosted login page in a fresh browser and returns the
// browser, its form's token and its q field.
func csrfPage(t *testing.T, s *testServer, authorize string) (*http.Client, string, string) {
	t.Helper()
	c := browser(t)
	st, page := get(t, c, authorize)
	if st != 200 {
		t.Fatalf("login page: %d\n%s", st, page)
	}
	return c, hiddenField(page, "_csrf"), hiddenField(page, "q")
}

// TestCrossSiteFormPostsRefused: a form posted from another site (or a
// sibling subdomain) to the hosted pages or the dashboard is refused even
// with a good token; the APIs that browsers call from applications'
// origins are not.
func TestCrossSiteFormPostsRefused(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		m := mgmtAPI{t, s, s.token(t)}
		app := s.app(t, m.tok, nil)
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "lin@example.com", "password": browserStrongPassword, "verify_email": false}, 201, nil)
		authorize := s.URL + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
			"redirect_uri": {"https://app.example.com/callback"}, "scope": {"openid"}, "state": {"s"}}.Encode()

		for _, tc := range []struct {
			name   string
			header map[string]string
			want   int
		}{
			{"another site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
			{"a sibling subdomain", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.app.example.com"}, 403},
			{"an old browser on another site", map[string]string{"Origin": "https://evil.example"}, 403},
			{"this very page", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.URL}, 302},
		} {
			c, token, q := csrfPage(t, s, authorize)
			f := fetch(t, c, tc.name, "POST", s.URL+"/u/login", url.Values{"_csrf": {token}, "q": {q}, "username": {"lin@example.com"}, "password": {browserStrongPassword}}, tc.header)
			if f.status != tc.want {
				t.Errorf("login form from %s: %d, want %d\n%.300s", tc.name, f.status, tc.want, f.body)
			}
			if tc.want == 403 && (f.header.Get("Set-Cookie") != "" || f.header.Get("Location") != "") {
				t.Errorf("login form from %s: refused but answered with a session or a redirect: %v", tc.name, f.header)
			}
		}
		// The other hosted forms.
		for _, path := range []string{"/lo/reset", "/lo/request", "/u/email-verification", "/u/signup"} {
			c, token, q := csrfPage(t, s, authorize)
			f := fetch(t, c, path, "POST", s.URL+path, url.Values{"_csrf": {token}, "q": {q}, "email": {"lin@example.com"}},
				map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
			if f.status != 403 || !strings.Contains(f.body, "another site") {
				t.Errorf("%s from another site: %d, want the cross-site refusal\n%.300s", path, f.status, f.body)
			}
		}

		// The dashboard.
		admin := newAdmin(t, s, dsn, "root@example.com")
		token := admin.csrf()
		f := fetch(t, admin.c, "dashboard", "POST", s.URL+"/dashboard/invitations", url.Values{"_csrf": {token}, "emails": {"x@example.com"}},
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		if f.status != 403 {
			t.Errorf("dashboard form from another site: %d, want 403", f.status)
		}
		var found []user
		m.must("GET", "/api/v2/users-by-email?email=x%40example.com", nil, 200, &found)
		if len(found) != 0 {
			t.Fatal("the refused dashboard form invited someone anyway")
		}
		f = fetch(t, admin.c, "dashboard", "POST", s.URL+"/dashboard/invitations", url.Values{"_csrf": {token}, "emails": {"y@example.com"}},
			map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.URL})
		if f.status != 200 || !strings.Contains(f.body, "y@example.com") {
			t.Errorf("dashboard form from the dashboard: %d, want the invitation made\n%.300s", f.status, f.body)
		}
		m.must("GET", "/api/v2/users-by-email?email=y%40example.com", nil, 200, &found)
		if len(found) != 1 {
			t.Fatal("the dashboard's own form invited nobody")
		}

		// Applications' browsers call these from their own origins.
		cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}
		if f := fetch(t, browser(t), "token", "POST", s.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {s.ClientID}, "client_secret": {s.ClientSecret}, "audience": {s.URL + "/api/v2/"}}, cross); f.status != 200 {
			t.Errorf("/oauth/token from an application's origin: %d\n%s", f.status, f.body)
		}
		req, _ := http.NewRequest("POST", s.URL+"/dbconnections/change_password", strings.NewReader(`{"client_id":"`+app.ClientID+`","email":"lin@example.com","connection":"`+dbConn+`"}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range cross {
			req.Header.Set(k, v)
		}
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/dbconnections/change_password from an application's origin: %d", resp.StatusCode)
		}
	})
}

// cookieHeader is the Cookie header of c's cookies for base, with the
// cookie called name replaced by value (or added).
func cookieHeader(c *http.Client, base, name, value string) string {
	u, _ := url.Parse(base)
	var parts []string
	for _, k := range c.Jar.Cookies(u) {
		if k.Name != name {
			parts = append(parts, k.Name+"="+k.Value)
		}
	}
	return strings.Join(append(parts, name+"="+value), "; ")
}

// csrfAnchor is the value of c's CSRF anchor cookie.
func csrfAnchor(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, k := range c.Jar.Cookies(u) {
		if k.Name == "usher_csrf" {
			return k.Value
		}
	}
	t.Fatal("no CSRF cookie")
	return ""
}

// TestCSRFTokenBoundToSession: a token is worth something only with the
// session it was made for. A cookie planted by a sibling subdomain (plain
// HTTP has no __Host- to stop it) together with the token that goes with
// it, or another administrator's token, is refused in a signed-in session.
func TestCSRFTokenBoundToSession(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		m := mgmtAPI{t, s, s.token(t)}
		victim := newAdmin(t, s, dsn, "root@example.com")
		other := newAdmin(t, s, dsn, "second@example.com")

		// The attacker's own browser gets a CSRF cookie and its token from
		// any page with a form.
		app := s.app(t, m.tok, nil)
		attacker, attackerToken, _ := csrfPage(t, s, s.URL+"/authorize?"+url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
			"redirect_uri": {"https://app.example.com/callback"}, "scope": {"openid"}}.Encode())
		planted := csrfAnchor(t, attacker, s.URL)

		post := func(name string, as *dashUser, anchor, token, email string) int {
			t.Helper()
			return fetch(t, &http.Client{Timeout: 10 * time.Second}, name, "POST", s.URL+"/dashboard/invitations",
				url.Values{"_csrf": {token}, "emails": {email}}, map[string]string{"Cookie": cookieHeader(as.c, s.URL+"/dashboard/", "usher_csrf", anchor)}).status
		}
		if st := post("planted cookie", victim, planted, attackerToken, "planted@example.com"); st != 403 {
			t.Errorf("a planted CSRF cookie and its token in the victim's session: %d, want 403", st)
		}
		otherToken := other.csrf()
		if st := post("another session's token", victim, csrfAnchor(t, other.c, s.URL), otherToken, "other@example.com"); st != 403 {
			t.Errorf("another administrator's token and cookie in the victim's session: %d, want 403", st)
		}
		for _, email := range []string{"planted@example.com", "other@example.com"} {
			var found []user
			m.must("GET", "/api/v2/users-by-email?email="+url.QueryEscape(email), nil, 200, &found)
			if len(found) != 0 {
				t.Fatalf("%s was invited with a forged token", email)
			}
		}
		// The victim's own token works, whatever the anchor cookie says.
		if st := post("own token", victim, planted, victim.csrf(), "own@example.com"); st != 200 {
			t.Errorf("the victim's own token: %d, want 200", st)
		}
	})
}

// setCookies records the names of the cookies every answer sets.
type setCookies struct {
	next http.RoundTripper
	mu   sync.Mutex
	all  []*http.Cookie
}

func (s *setCookies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.all = append(s.all, resp.Cookies()...)
		s.mu.Unlock()
	}
	return resp, err
}

// TestHostCookiesOverHTTPS: served over HTTPS, every cookie Usher sets is
// __Host- prefixed (Secure, Path=/, no Domain), so no sibling subdomain can
// plant one; the dashboard works through them end to end.
func TestHostCookiesOverHTTPS(t *testing.T) {
	t.Parallel()
	certFile, keyFile := selfSignedCert(t)
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, map[string]string{"USHER_TLS_CERT_FILE": certFile, "USHER_TLS_KEY_FILE": keyFile})
	rec := &setCookies{next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, certFile)}}}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: rec}

	link := adminInvite(t, dsn, s.URL, "root@example.com")
	if resp, body := setPassword(t, c, s.URL, link, adminPassword); resp.StatusCode != 200 {
		t.Fatalf("accept the admin's invitation: %d\n%s", resp.StatusCode, body)
	}
	resp, err := c.Get(s.URL + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = c.PostForm(s.URL+"/u/login", url.Values{"_csrf": {hiddenField(string(page), "_csrf")}, "q": {hiddenField(string(page), "q")},
		"username": {"root@example.com"}, "password": {adminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/dashboard/" || resp.StatusCode != 200 {
		t.Fatalf("sign-in over HTTPS ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	admin := &dashUser{t: t, s: s, c: c}
	if st, page := admin.post("/dashboard/invitations", url.Values{"_csrf": {admin.csrf()}, "emails": {"new@example.com"}}); st != 200 || !strings.Contains(page, "new@example.com") {
		t.Fatalf("a dashboard form over HTTPS: %d, want the invitation made\n%s", st, page)
	}

	seen := map[string]bool{}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, k := range rec.all {
		seen[k.Name] = true
		if !strings.HasPrefix(k.Name, "__Host-") || !k.Secure || k.Path != "/" || k.Domain != "" {
			t.Errorf("cookie %s: Secure=%v Path=%q Domain=%q; over HTTPS every cookie must be __Host-, Secure, Path=/, no Domain", k.Name, k.Secure, k.Path, k.Domain)
		}
		// The login's session reaches Usher framed by an app on another
		// site (silent authentication), with a twin for browsers that
		// refuse SameSite=None.
		if k.Name == "__Host-usher_session" && k.SameSite != http.SameSiteNoneMode && k.MaxAge >= 0 {
			t.Errorf("the session cookie is SameSite %v, want None over HTTPS", k.SameSite)
		}
	}
	for _, name := range []string{"__Host-usher_csrf", "__Host-usher_session", "__Host-usher_session_compat", "__Host-usher_dashboard", "__Host-usher_dashboard_login"} {
		if !seen[name] {
			t.Errorf("no %s cookie was set (saw %v)", name, seen)
		}
	}
}
