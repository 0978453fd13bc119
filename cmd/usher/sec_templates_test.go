package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/store"
)

// fileMarker is what the file templates try to read holds: it must never
// show up in a page or a mail.
const fileMarker = "USHER-FILE-MARKER-5b1e0c"

// markerFile writes a file holding fileMarker and returns its path relative
// to the working directory, which is what {% include %} resolved it against:
// the same walk up with ../ that reaches /proc/self/environ.
func markerFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(p, []byte(fileMarker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// scopedToken makes a machine-to-machine client holding only scopes and
// returns a Management API token for it.
func (s *testServer) scopedToken(t *testing.T, admin string, scopes ...string) string {
	t.Helper()
	var c client
	if st := s.call(t, "POST", "/api/v2/clients", admin, map[string]any{"name": "Scoped " + strings.Join(scopes, " "), "app_type": "non_interactive"}, &c); st != 201 {
		t.Fatalf("create client: %d", st)
	}
	if st := s.call(t, "POST", "/api/v2/client-grants", admin, map[string]any{"client_id": c.ClientID, "audience": s.URL + "/api/v2/", "scope": scopes}, nil); st != 201 {
		t.Fatalf("grant %v: %d", scopes, st)
	}
	return s.tokenFor(t, c.ClientID, c.ClientSecret)
}

// page GETs a public page and returns its status and body.
func (s *testServer) page(t *testing.T, link string) (int, string) {
	t.Helper()
	if strings.HasPrefix(link, "/") {
		link = s.URL + link
	}
	return get(t, browser(t), link)
}

// outboxBodies returns the subject, HTML and text of every mail of the outbox.
func (s *testServer) outboxBodies(t *testing.T, tok string) []string {
	t.Helper()
	var all []string
	for _, m := range s.outbox(t, tok, "") {
		var full struct{ Subject, HTML, Text, From string }
		if st := s.call(t, "GET", "/usher/v1/outbox/"+m.ID, tok, nil, &full); st != 200 {
			t.Fatalf("outbox mail %s: %d", m.ID, st)
		}
		all = append(all, full.Subject+"\n"+full.From+"\n"+full.HTML+"\n"+full.Text)
	}
	return all
}

// wantRefusedAtLine checks a 400 in Auth0's shape whose message names line.
func (s *testServer) wantRefusedAtLine(t *testing.T, method, path, tok string, body any, line string) mgmtErr {
	t.Helper()
	e := s.wantErr(t, method, path, tok, body, http.StatusBadRequest, "")
	if !strings.Contains(e.Message, "line "+line) {
		t.Errorf("%s %s: %q does not name line %s", method, path, e.Message, line)
	}
	if strings.Contains(e.Message, fileMarker) {
		t.Errorf("%s %s: the error shows the file: %q", method, path, e.Message)
	}
	return e
}

// TestTemplatesCannotReadFiles: no template a tenant can save reads a file.
// {% include %} is refused when saved (400 naming the line, the same answer
// whether or not the file exists, so it tells nothing about the disk), and a
// template stored before this rule renders without the file either.
func TestTemplatesCannotReadFiles(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		admin := s.token(t)
		rel := markerFile(t)
		include := `{% include "` + rel + `" %}`
		missing := `{% include "` + rel + `.nothere" %}`
		head := "<html><head>{%- auth0:head -%}</head>\n<body>{%- auth0:widget -%}\n"

		t.Run("universal login", func(t *testing.T) {
			branding := s.scopedToken(t, admin, "update:branding")
			path := "/api/v2/branding/templates/universal-login"
			exists := s.wantRefusedAtLine(t, "PUT", path, branding, map[string]any{"template": head + include + "\n</body></html>"}, "3")
			absent := s.wantRefusedAtLine(t, "PUT", path, branding, map[string]any{"template": head + missing + "\n</body></html>"}, "3")
			if exists.Message != absent.Message {
				t.Errorf("the answer tells whether a file exists: %q vs %q", exists.Message, absent.Message)
			}
			for _, tc := range []struct{ src, line string }{
				{head + "{% if false %}\n" + include + "\n{% endif %}</body></html>", "4"},
				{head + `{%- include '` + rel + `' -%}` + "</body></html>", "3"},
				{head + "\n\n" + `{% render "` + rel + `" %}` + "</body></html>", "5"},
				{head + `{% layout "` + rel + `" %}` + "</body></html>", "3"},
			} {
				s.wantRefusedAtLine(t, "PUT", path, branding, map[string]any{"template": tc.src}, tc.line)
			}
			if st, body := s.page(t, "/v2/logout"); strings.Contains(body, fileMarker) {
				t.Fatalf("the logout page (%d) shows the file:\n%s", st, body)
			}

			// A template stored before templates were checked for this.
			putSetting(t, dsn, "universal_login_template", head+include+"\n</body></html>")
			if st, body := s.page(t, "/v2/logout"); strings.Contains(body, fileMarker) {
				t.Fatalf("the logout page (%d) shows the file of a stored template:\n%s", st, body)
			}
			putSetting(t, dsn, "universal_login_template", "")
		})

		t.Run("email template", func(t *testing.T) {
			tpl := s.scopedToken(t, admin, "update:email_templates", "create:email_templates")
			s.wantRefusedAtLine(t, "PATCH", "/api/v2/email-templates/reset_email", tpl, map[string]any{"body": "<p>Hello</p>\n" + include}, "2")
			s.wantRefusedAtLine(t, "PATCH", "/api/v2/email-templates/reset_email", tpl, map[string]any{"subject": include}, "1")
			s.wantRefusedAtLine(t, "PATCH", "/api/v2/email-templates/reset_email", tpl, map[string]any{"from": "a@example.com" + include}, "1")
			s.wantRefusedAtLine(t, "PUT", "/api/v2/email-templates/verify_email", tpl, map[string]any{"template": "verify_email", "body": "a\nb\n" + missing, "enabled": true, "syntax": "liquid"}, "3")
			s.wantRefusedAtLine(t, "POST", "/api/v2/email-templates", tpl, map[string]any{"template": "welcome_email", "body": "<p>\n{% if true %}\n" + include + "{% endif %}", "enabled": true, "syntax": "liquid"}, "3")

			createUsers(t, s, admin, "incl", 1, true)
			before := len(s.outbox(t, admin, ""))
			s.changePassword(t, "incl0000@example.com")
			// change_password answers first and queues its mail just after.
			waitFor(t, 10*time.Second, "the change-password mail", func() bool { return len(s.outbox(t, admin, "")) > before })
			bodies := s.outboxBodies(t, admin)
			if len(bodies) == 0 {
				t.Fatal("no mail was queued")
			}
			for _, b := range bodies {
				if strings.Contains(b, fileMarker) {
					t.Fatalf("a queued mail holds the file:\n%s", b)
				}
			}
		})

		t.Run("tenant settings", func(t *testing.T) {
			settings := s.scopedToken(t, admin, "update:tenant_settings")
			for _, field := range []string{"change_password", "guardian_mfa_page"} {
				s.wantRefusedAtLine(t, "PATCH", "/api/v2/tenants/settings", settings,
					map[string]any{field: map[string]any{"enabled": true, "html": "<html>\n<body>\n" + include + "</body></html>"}}, "3")
			}
			s.wantRefusedAtLine(t, "PATCH", "/api/v2/tenants/settings", settings,
				map[string]any{"error_page": map[string]any{"html": "<p>\n" + include, "show_log_link": false, "url": ""}}, "2")

			var u user
			if st := s.call(t, "POST", "/api/v2/users", admin, map[string]any{"connection": dbConn, "email": "classic@example.com", "password": "Str0ng-Passw0rd!"}, &u); st != 201 {
				t.Fatalf("create user: %d", st)
			}
			ticket := func() string {
				var out struct{ Ticket string }
				if st := s.call(t, "POST", "/api/v2/tickets/password-change", admin, map[string]any{"user_id": u.UserID}, &out); st != 201 {
					t.Fatalf("ticket: %d", st)
				}
				return out.Ticket
			}
			if st, body := s.page(t, ticket()); strings.Contains(body, fileMarker) {
				t.Fatalf("the reset page (%d) shows the file:\n%s", st, body)
			}

			// A classic page stored before templates were checked for this.
			db, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			cur, err := db.TenantSettings(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			cur.ChangePassword = &identity.ChangePasswordPage{Enabled: true, HTML: "<p>\n" + include + "</p>"}
			if err := db.SaveTenantSettings(context.Background(), cur); err != nil {
				t.Fatal(err)
			}
			if st, body := s.page(t, ticket()); strings.Contains(body, fileMarker) {
				t.Fatalf("the reset page (%d) shows the file of a stored template:\n%s", st, body)
			}
			cur.ChangePassword = nil
			db.SaveTenantSettings(context.Background(), cur)
		})
	})
}

// putSetting writes a setting straight to the database, as an older version
// of Usher could have left it.
// TestTemplatesCannotRunLong: a template whose loops or values have no end
// is refused when saved, wherever it is saved, with the line and the bound it
// passed; the server keeps answering.
func TestTemplatesCannotRunLong(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	admin := s.token(t)
	loop := "<p>\n{% for i in (1..100000000) %}{% endfor %}"
	doubling := "<p>\n{% assign s = 'xxxxxxxx' %}" + strings.Repeat("{% assign s = s | append: s %}", 40)
	head := "<html><head>{%- auth0:head -%}</head>\n<body>{%- auth0:widget -%}\n"
	for _, tc := range []struct {
		method, path string
		body         map[string]any
		line, want   string
	}{
		{"PATCH", "/api/v2/email-templates/reset_email", map[string]any{"body": loop}, "2", "loops run more than"},
		{"PATCH", "/api/v2/email-templates/reset_email", map[string]any{"body": doubling}, "2", "makes a value of more than"},
		{"PATCH", "/api/v2/email-templates/reset_email", map[string]any{"subject": "{% for i in (1..100000000) %}{% endfor %}"}, "1", "loops run more than"},
		{"PUT", "/api/v2/branding/templates/universal-login", map[string]any{"template": head + loop + "</body></html>"}, "4", "loops run more than"},
		{"PATCH", "/api/v2/tenants/settings", map[string]any{"change_password": map[string]any{"enabled": true, "html": doubling}}, "2", "makes a value of more than"},
	} {
		e := s.wantRefusedAtLine(t, tc.method, tc.path, admin, tc.body, tc.line)
		if !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s %s: %q does not say %q", tc.method, tc.path, e.Message, tc.want)
		}
	}
	if st := s.call(t, "GET", "/api/v2/email-templates/reset_email", admin, nil, nil); st != 200 {
		t.Fatalf("the server after the refusals: %d", st)
	}
}

func putSetting(t *testing.T, dsn, name, value string) {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutSetting(context.Background(), name, value); err != nil {
		t.Fatal(err)
	}
}

// TestMailHTMLEscapesUserValues: a name someone typed reaches the HTML of a
// mail escaped, not as markup; a template that escapes it itself (as Auth0's
// documentation tells) does not get it escaped twice; the subject and the
// text part carry it as it is; and the link still works.
func TestMailHTMLEscapesUserValues(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	const name = `Ada <img src=x onerror=alert(1)> & "Co"`
	const escaped = `Ada &lt;img src=x onerror=alert(1)&gt; &amp; &#34;Co&#34;`
	body := "<p>Hello {{ user.name }}</p>\n<p>Again {{ user.name | escape }}</p>\n<p>{{ user.user_metadata.note }}</p>\n" +
		`<a href="{{ url }}type=invite">Accept</a>`
	if st := s.call(t, "PATCH", "/api/v2/email-templates/reset_email", tok, map[string]any{"body": body, "subject": "Welcome {{ user.name }}"}, nil); st != 200 {
		t.Fatalf("save template: %d", st)
	}
	if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "esc@example.com", "name": name, "verify_email": false,
		"user_metadata": map[string]any{"note": "<script>alert(2)</script>"}, "app_metadata": map[string]any{"needsInvitation": true}}, nil); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	s.changePassword(t, "esc@example.com")
	waitFor(t, 10*time.Second, "the change-password mail", func() bool { return len(s.outbox(t, tok, "")) > 0 })
	mails := s.outbox(t, tok, "")
	if len(mails) != 1 {
		t.Fatalf("outbox: %+v", mails)
	}
	var m struct{ Subject, HTML, Text string }
	s.call(t, "GET", "/usher/v1/outbox/"+mails[0].ID, tok, nil, &m)
	for _, want := range []string{"<p>Hello " + escaped + "</p>", "<p>Again " + escaped + "</p>", "&lt;script&gt;alert(2)&lt;/script&gt;"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the HTML lacks %q:\n%s", want, m.HTML)
		}
	}
	for _, never := range []string{"<img", "<script", "&amp;lt;"} {
		if strings.Contains(m.HTML, never) {
			t.Errorf("the HTML holds %q:\n%s", never, m.HTML)
		}
	}
	if m.Subject != "Welcome "+name {
		t.Errorf("subject %q, want the name as typed", m.Subject)
	}
	if !strings.Contains(m.Text, "Hello "+name) {
		t.Errorf("the text part lacks the name as typed:\n%s", m.Text)
	}
	link := linkOf(t, mailtest.Message{HTML: m.HTML})
	if !strings.HasSuffix(link, "#type=invite") {
		t.Fatalf("link %q", link)
	}
	if st, page := s.page(t, link); st != 200 || !strings.Contains(page, `name="newPassword"`) {
		t.Fatalf("the link opens %d:\n%s", st, page)
	}
}

// TestRedirectTargetsMustBeHTTP: every redirect target that is stored or
// given is an http(s) URL; anything else is a 400 in Auth0's shape that
// names the field. A target stored before this rule is not followed.
func TestRedirectTargetsMustBeHTTP(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	tok := s.token(t)
	var u user
	if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "redir@example.com", "password": "Str0ng-Passw0rd!"}, &u); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	web := s.app(t, tok, nil)
	bads := []string{
		"javascript://app.example.com/%0Aalert(document.domain)",
		"javascript:alert(1)",
		"JavaScript://x.example/%0Aalert(1)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript://x.example/msgbox",
		"//evil.example/",
		"https:///nohost",
	}
	for _, bad := range bads {
		for _, tc := range []struct {
			method, path string
			body         map[string]any
			field        string
		}{
			{"PATCH", "/api/v2/email-templates/reset_email", map[string]any{"resultUrl": bad}, "resultUrl"},
			{"PUT", "/api/v2/email-templates/verify_email", map[string]any{"template": "verify_email", "body": "<p>x</p>", "enabled": true, "syntax": "liquid", "resultUrl": bad}, "resultUrl"},
			{"POST", "/api/v2/tickets/password-change", map[string]any{"user_id": u.UserID, "result_url": bad}, "result_url"},
			{"POST", "/api/v2/tickets/email-verification", map[string]any{"user_id": u.UserID, "result_url": bad}, "result_url"},
			{"POST", "/usher/v1/invitations", map[string]any{"email": "inv@example.com", "result_url": bad}, "result_url"},
			{"POST", "/api/v2/clients", map[string]any{"name": "Bad", "callbacks": []string{"https://ok.example/cb", bad}}, "callbacks"},
			{"POST", "/api/v2/clients", map[string]any{"name": "Bad", "allowed_logout_urls": []string{bad}}, "allowed_logout_urls"},
			{"POST", "/api/v2/clients", map[string]any{"name": "Bad", "initiate_login_uri": bad}, "initiate_login_uri"},
			{"POST", "/api/v2/clients", map[string]any{"name": "Bad", "app_type": "native", "callbacks": []string{bad}}, "callbacks"},
			{"PATCH", "/api/v2/clients/" + web.ClientID, map[string]any{"callbacks": []string{bad}}, "callbacks"},
			{"PATCH", "/api/v2/clients/" + web.ClientID, map[string]any{"allowed_logout_urls": []string{bad}}, "allowed_logout_urls"},
			{"PATCH", "/api/v2/clients/" + web.ClientID, map[string]any{"initiate_login_uri": bad}, "initiate_login_uri"},
			{"PATCH", "/api/v2/tenants/settings", map[string]any{"allowed_logout_urls": []string{bad}}, "allowed_logout_urls"},
			{"PATCH", "/api/v2/tenants/settings", map[string]any{"default_redirection_uri": bad}, "default_redirection_uri"},
			{"PATCH", "/api/v2/tenants/settings", map[string]any{"error_page": map[string]any{"html": "", "show_log_link": false, "url": bad}}, "error_page.url"},
			{"PATCH", "/api/v2/tenants/settings", map[string]any{"support_url": bad}, "support_url"},
		} {
			e := s.wantErr(t, tc.method, tc.path, tok, tc.body, http.StatusBadRequest, "invalid_body")
			if !strings.Contains(e.Message, "on property "+tc.field) {
				t.Errorf("%s %s with %q: %q does not name %s", tc.method, tc.path, bad, e.Message, tc.field)
			}
		}
		st, job, e := s.postImport(t, tok, usersFile(1, "redir", nil), "users.json",
			map[string]string{"connection_id": s.connectionID(t, tok), "result_url": bad, "upsert": "true"})
		if st != http.StatusBadRequest || !strings.Contains(e.Message, "on property result_url") {
			t.Errorf("import with result_url %q: %d %+v %+v", bad, st, job, e)
		}
	}

	// What stays valid: http(s) anywhere, and a native app's own scheme for
	// its callbacks and logout URLs (Auth0's mobile SDKs return through it).
	for _, tc := range []struct {
		method, path string
		body         map[string]any
		status       int
	}{
		{"PATCH", "/api/v2/email-templates/reset_email", map[string]any{"resultUrl": "https://app.example.com/done?x=1"}, 200},
		{"POST", "/api/v2/tickets/password-change", map[string]any{"user_id": u.UserID, "result_url": "http://localhost:3000/done"}, 201},
		{"POST", "/api/v2/clients", map[string]any{"name": "Good", "callbacks": []string{"https://app.example.com/cb", "http://localhost:3000/cb"},
			"allowed_logout_urls": []string{"https://app.example.com/"}, "initiate_login_uri": "https://app.example.com/login"}, 201},
		{"POST", "/api/v2/clients", map[string]any{"name": "Mobile", "app_type": "native", "callbacks": []string{"com.example.app://id.example.com/ios/com.example.app/callback"},
			"allowed_logout_urls": []string{"com.example.app://id.example.com/ios/com.example.app/callback"}}, 201},
		{"PATCH", "/api/v2/tenants/settings", map[string]any{"allowed_logout_urls": []string{"https://app.example.com/bye"}, "default_redirection_uri": "https://app.example.com/login",
			"support_url": "https://app.example.com/help"}, 200},
	} {
		if st := s.call(t, tc.method, tc.path, tok, tc.body, nil); st != tc.status {
			t.Errorf("%s %s %v: %d, want %d", tc.method, tc.path, tc.body, st, tc.status)
		}
	}

	// A logout URL stored before this rule is not followed.
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	legacy, err := db.Client(context.Background(), web.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	bad := "javascript://app.example.com/%0Aalert(document.domain)"
	legacy.AllowedLogoutURLs = []string{bad}
	if err := db.UpdateClient(context.Background(), legacy); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	resp, err := c.Get(s.URL + "/v2/logout?client_id=" + web.ClientID + "&returnTo=" + url.QueryEscape(bad))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("logout to a stored %q: %d, Location %q", bad, resp.StatusCode, resp.Header.Get("Location"))
	}
}
