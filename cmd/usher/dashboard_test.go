package main

// The dashboard end to end: administrators made with `usher admin invite`
// sign in through the hosted login; plain HTTP checks what every route
// refuses, and Chromium clicks through what a person does.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/usherid/usher/internal/dashboard"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/store"
)

const adminPassword = "Adm1n-Passw0rd!"

// adminInvite runs `usher admin invite --db` and returns the link it printed.
func adminInvite(t testing.TB, dsn, publicURL, email string) string {
	t.Helper()
	var out, errOut strings.Builder
	err := run(context.Background(), []string{"usher", "admin", "invite", "--db", dsn, "--public-url", publicURL, email},
		func(string) string { return "" }, systemClock{}, strings.NewReader(""), &out, &errOut)
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
	t  testing.TB
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
func signIn(t testing.TB, s *testServer, email, password string) *dashUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: s.HTTP.Transport}
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

// csrf is the token the dashboard's forms carry for this browser's session.
func (u *dashUser) csrf() string {
	u.t.Helper()
	_, page := u.get("/dashboard/")
	if token := hiddenField(page, "_csrf"); token != "" {
		return token
	}
	u.t.Fatalf("no CSRF token on the dashboard's page:\n%s", page)
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

// formPart is one part of a multipart form: a field, or a file named File.
type formPart struct{ Name, Value, File string }

// multipartBody is a multipart form of parts, in order, and its content type.
func multipartBody(parts ...formPart) ([]byte, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		if p.File != "" {
			fw, _ := mw.CreateFormFile(p.Name, p.File)
			fw.Write([]byte(p.Value))
		} else {
			mw.WriteField(p.Name, p.Value)
		}
	}
	mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

// postMultipart submits a multipart form with its parts in the order given,
// without following the redirect it answers with; it returns the status,
// the redirect's target and the page.
func (u *dashUser) postMultipart(path string, parts ...formPart) (int, string, string) {
	u.t.Helper()
	body, ctype := multipartBody(parts...)
	req, _ := http.NewRequest("POST", u.s.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	c := *u.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(page)
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
	t.Parallel()
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
		// The import form is multipart and streamed: its token is checked
		// before the file is read, and must be its first part.
		file := string(usersFile(3, "csrf", nil))
		for _, parts := range [][]formPart{
			{{Name: "connection_id", Value: s.connectionID(t, tok)}, {Name: "users", File: "team.json", Value: file}},
			{{Name: "_csrf", Value: "forged-token-forged-token-forged-token"}, {Name: "users", File: "team.json", Value: file}},
			{{Name: "users", File: "team.json", Value: file}, {Name: "_csrf", Value: admin.csrf()}},
		} {
			if st, _, page := admin.postMultipart("/dashboard/import", parts...); st != http.StatusForbidden || !strings.Contains(page, "This form expired") {
				t.Fatalf("import without a good CSRF token first: %d\n%s", st, page)
			}
		}
		if st, _ := admin.post("/dashboard/import", url.Values{"_csrf": {admin.csrf()}}); st != http.StatusForbidden {
			t.Fatalf("import as a plain form: %d, want 403", st)
		}
		if _, page := admin.get("/dashboard/import"); !strings.Contains(page, "No imports yet") {
			t.Fatal("a refused import form made a job")
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

// count reads a figure the job page shows, by the id of its element.
func count(page, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `">([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return "(none)"
	}
	return m[1]
}

// importFile is a users file of 500 rows: three bad, one of someone who has
// an account already (existing@example.com).
func importFile() []byte {
	return usersFile(500, "imp", map[int]string{
		7: `{"email":"not-an-email"}`, 250: `{"given_name":"No Email"}`, 499: `{"email":"imp00499@example.com","email_verified":"yes"}`,
		100: `{"email":"existing@example.com"}`,
	})
}

// TestDashboardImport uploads a users file through the dashboard's form,
// follows the job's page until it ends, and downloads the failed rows.
func TestDashboardImport(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "existing@example.com", "verify_email": false}, nil); st != 201 {
			t.Fatalf("create existing: %d", st)
		}
		conn := s.connectionID(t, tok)
		admin := newAdmin(t, s, dsn, "importer@example.com")
		st, page := admin.get("/dashboard/import")
		if st != 200 || !strings.Contains(page, "Import a users file") || !strings.Contains(page, "No imports yet") ||
			!strings.Contains(page, `<option value="`+conn+`" selected>`+dbConn+`</option>`) || !strings.Contains(page, `id="invite" name="invite" type="checkbox" checked`) {
			t.Fatalf("the import page: %d\n%s", st, page)
		}

		// Refused uploads show the form again and make no job.
		for _, tc := range []struct {
			name  string
			parts []formPart
			want  string
		}{
			{"no file", []formPart{{Name: "connection_id", Value: conn}, {Name: "users", File: "", Value: ""}}, "choose a users file"},
			{"empty file", []formPart{{Name: "connection_id", Value: conn}, {Name: "users", File: "empty.json", Value: ""}}, "must not be empty"},
			{"not a JSON array", []formPart{{Name: "connection_id", Value: conn}, {Name: "users", File: "team.json", Value: `{"email":"a@example.com"}`}}, "must be a JSON array"},
			{"unknown CSV column", []formPart{{Name: "connection_id", Value: conn}, {Name: "users", File: "team.csv", Value: "email,shoe_size\na@example.com,44\n"}}, "shoe_size"},
			{"no such connection", []formPart{{Name: "connection_id", Value: "con_nope"}, {Name: "users", File: "team.json", Value: "[]"}}, "connection does not exist"},
		} {
			st, _, page := admin.postMultipart("/dashboard/import", append([]formPart{{Name: "_csrf", Value: admin.csrf()}}, tc.parts...)...)
			if st != http.StatusBadRequest || !strings.Contains(page, "Nothing was imported") || !strings.Contains(page, tc.want) {
				t.Fatalf("%s: %d, want 400 saying %q\n%s", tc.name, st, tc.want, page)
			}
		}
		if _, page := admin.get("/dashboard/import"); !strings.Contains(page, "No imports yet") {
			t.Fatalf("a refused upload made a job:\n%s", page)
		}

		// 500 rows, invited; the form's checkboxes send "on".
		st, location, page := admin.postMultipart("/dashboard/import", formPart{Name: "_csrf", Value: admin.csrf()},
			formPart{Name: "connection_id", Value: conn}, formPart{Name: "invite", Value: "on"},
			formPart{Name: "users", File: "team.json", Value: string(importFile())})
		jobID, ok := strings.CutPrefix(location, s.URL+"/dashboard/import/")
		if st != http.StatusSeeOther || !ok || !strings.HasPrefix(jobID, "job_") {
			t.Fatalf("upload: %d %q\n%s", st, location, page)
		}
		waitFor(t, 60*time.Second, "the job page to say completed", func() bool {
			st, page = admin.get("/dashboard/import/" + jobID)
			if st != 200 {
				t.Fatalf("job page: %d\n%s", st, page)
			}
			return count(page, "job-status") != "pending"
		})
		for id, want := range map[string]string{"job-status": "completed", "job-percent": "100%", "count-total": "500", "count-created": "496",
			"count-invited": "496", "count-updated": "0", "count-skipped": "1", "count-failed": "3"} {
			if got := count(page, id); got != want {
				t.Errorf("%s: %q, want %q", id, got, want)
			}
		}
		if strings.Contains(page, "data-refresh") || strings.Contains(page, `http-equiv="refresh"`) {
			t.Error("an ended job's page still refreshes")
		}
		for _, want := range []string{"Download errors", "not-an-email", "FORMAT", "OBJECT_REQUIRED", "INVALID_TYPE", "<td data-label=\"Line\">8</td>"} {
			if !strings.Contains(page, want) && !strings.Contains(page, html.EscapeString(want)) {
				t.Errorf("the job page does not show %q", want)
			}
		}
		if t.Failed() {
			t.Fatalf("job page:\n%s", page)
		}
		var api importJob
		s.call(t, "GET", "/api/v2/jobs/"+jobID, tok, nil, &api)
		if api.Summary.Inserted != 496 || api.Summary.Invited != 496 || api.Summary.Skipped != 1 || api.Summary.Failed != 3 {
			t.Fatalf("the API's job: %+v", api)
		}

		// The errors download is the API's list, as a file.
		resp, err := admin.c.Get(s.URL + "/dashboard/import/" + jobID + "/errors")
		if err != nil {
			t.Fatal(err)
		}
		download, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="`+jobID+`-errors.json"` {
			t.Fatalf("errors download: %d %v", resp.StatusCode, resp.Header)
		}
		var fromPage, fromAPI []jobRowError
		if err := json.Unmarshal(download, &fromPage); err != nil {
			t.Fatalf("errors download: %v\n%s", err, download)
		}
		s.call(t, "GET", "/api/v2/jobs/"+jobID+"/errors", tok, nil, &fromAPI)
		if len(fromPage) != 3 || fmt.Sprint(fromPage) != fmt.Sprint(fromAPI) || fromPage[0].Line != 8 {
			t.Fatalf("errors download:\n%v\nthe API's:\n%v", fromPage, fromAPI)
		}

		// The list shows the import, by its file; a CSV dry run is told apart.
		st, _, _ = admin.postMultipart("/dashboard/import", formPart{Name: "_csrf", Value: admin.csrf()},
			formPart{Name: "connection_id", Value: conn}, formPart{Name: "dry_run", Value: "on"},
			formPart{Name: "users", File: "more.csv", Value: "email,given_name\nnew1@example.com,New\nnot-an-email,Bad\n"})
		if st != http.StatusSeeOther {
			t.Fatalf("dry run upload: %d", st)
		}
		_, page = admin.get("/dashboard/import")
		if !strings.Contains(page, "team.json") || !strings.Contains(page, "more.csv") || !strings.Contains(page, "dry run") ||
			strings.Index(page, "more.csv") > strings.Index(page, "team.json") {
			t.Fatalf("the list of imports, newest first:\n%s", page)
		}
		var found []user
		s.call(t, "GET", "/api/v2/users-by-email?email=new1@example.com", tok, nil, &found)
		if len(found) != 0 {
			t.Fatal("a dry run made a user")
		}

		// Another kind of job, or none, is not an import.
		if st, _ := admin.get("/dashboard/import/job_nope"); st != http.StatusNotFound {
			t.Fatalf("a job that does not exist: %d", st)
		}
		if st, _ := admin.get("/dashboard/import/job_nope/errors"); st != http.StatusNotFound {
			t.Fatalf("errors of a job that does not exist: %d", st)
		}
	})
}

func TestDashboardMetadataValidation(t *testing.T) {
	t.Parallel()
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

// frameText is the text of the frame showing a URL with urlPart, and
// whether there is one. Chromium runs the sandboxed mail frames in a
// process of their own, so the test attaches to the frame's target rather
// than reaching it through the page.
func frameText(p *browserTab, urlPart string) (string, bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepLimit)
	defer cancel()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		p.t.Fatalf("targets: %v", err)
	}
	for _, info := range infos {
		if info.Type != "iframe" || !strings.Contains(info.URL, urlPart) {
			continue
		}
		frame, stop := chromedp.NewContext(p.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		defer stop()
		stepCtx, cancelStep := context.WithTimeout(frame, 5*time.Second)
		defer cancelStep()
		text, err := chromedp.Run(stepCtx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		return text, err == nil
	}
	return "", false
}

// waitFrame waits until the frame showing urlPart shows each of want.
func waitFrame(p *browserTab, urlPart string, want ...string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		text, ok := frameText(p, urlPart)
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
			}
		}
		if ok && missing == "" {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the frame %s does not show %q (found: %v):\n%s", urlPart, missing, ok, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEval waits until the expression js gives want in the page.
func waitEval(p *browserTab, js, want string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := evalIn[string](p, js)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s is %q, not %q:\n%s", js, got, want, p.shown())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// browserSignIn logs in on the hosted page the dashboard sends to.
func browserSignIn(p *browserTab, base, email, password string) int {
	p.t.Helper()
	if st := p.open(base + "/dashboard/"); st != http.StatusOK {
		p.t.Fatalf("the dashboard's login page: %d\n%s", st, p.shown())
	}
	p.typeInto(`#username`, email)
	p.typeInto(`#password`, password)
	return p.click(`button[type=submit]`)
}

// wantNoSideways checks that a phone never scrolls sideways.
func wantNoSideways(p *browserTab) {
	p.t.Helper()
	if w := evalIn[float64](p, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		p.t.Fatalf("the page is %vpx wider than the phone", w)
	}
}

func TestBrowserDashboard(t *testing.T) {
	chromiumPath(t)
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil) // no SMTP: mail waits in the dashboard's mailbox
	tok := s.token(t)
	c := startChromium(t)

	// The first administrator, made on the command line, accepts in the browser.
	link := adminInvite(t, dsn, s.URL, "root@example.com")
	p := c.newTab(true)
	if st := p.open(link); st != http.StatusOK {
		t.Fatalf("admin's link: %d", st)
	}
	p.typeInto(`#newPassword`, adminPassword)
	p.typeInto(`#confirmNewPassword`, adminPassword)
	if st := p.click(`button[type=submit]`); st != http.StatusOK {
		t.Fatalf("admin accepts: %d\n%s", st, p.shown())
	}
	if st := browserSignIn(p, s.URL, "root@example.com", adminPassword); st != http.StatusOK {
		t.Fatalf("admin signs in: %d\n%s", st, p.shown())
	}
	p.wantShown("Invitations per day", "acceptance rate", "root@example.com", "Sign out")
	p.screenshot("home")

	// Invite a person; the link is on the page this once.
	p.open(s.URL + "/dashboard/invitations")
	p.typeInto(`#emails`, "bea@example.com")
	if st := p.click(`#invite-submit`); st != http.StatusOK {
		t.Fatalf("invite: %d\n%s", st, p.shown())
	}
	p.wantShown("Just sent", "bea@example.com", "pending")
	if shown := evalIn[string](p, `document.querySelector('.link-field').value`); !strings.Contains(shown, "/lo/reset?ticket=") {
		t.Fatalf("the invitation link is not shown: %q", shown)
	}
	p.screenshot("invitations")

	// No SMTP: the mail is read in the dashboard's mailbox.
	p.open(s.URL + "/dashboard/mail/outbox?to=bea@example.com")
	p.wantShown("No SMTP server is set up", "queued")
	p.screenshot("outbox")
	if st := p.click(`table a[href*="/mail/outbox/mail_"]`); st != http.StatusOK {
		t.Fatalf("open the mail: %d", st)
	}
	p.wantShown("You are invited to", "bea@example.com", "Accept the invitation")
	text := evalIn[string](p, `document.getElementById('mail-text').textContent`)
	mailed := regexp.MustCompile(`https?://\S+/lo/reset\?ticket=\S+`).FindString(text)
	if mailed == "" {
		t.Fatalf("no link in the mail's text:\n%s", text)
	}
	waitFrame(p, "/html", "You are invited")
	p.screenshot("mailbox")

	// Bea accepts in another browser.
	bea := c.newTab(true)
	if st := bea.open(mailed); st != http.StatusOK {
		t.Fatalf("bea's link: %d", st)
	}
	bea.typeInto(`#newPassword`, browserStrongPassword)
	bea.typeInto(`#confirmNewPassword`, browserStrongPassword)
	if st := bea.click(`button[type=submit]`); st != http.StatusOK {
		t.Fatalf("bea accepts: %d\n%s", st, bea.shown())
	}
	bea.wantShown("You are all set")

	// The invitation turns accepted.
	p.open(s.URL + "/dashboard/invitations?email=bea@example.com")
	if state := evalIn[string](p, `document.querySelector('tbody .badge').textContent`); state != "accepted" {
		t.Fatalf("the invitation's state in the list: %q", state)
	}
	p.click(`table a[href*="/dashboard/invitations/inv_"]`)
	if state := evalIn[string](p, `document.getElementById('state').textContent`); state != "accepted" {
		t.Fatalf("the invitation's state: %q", state)
	}
	p.wantShown("created", "sent", "accepted")
	p.screenshot("invitation")
	p.open(s.URL + "/dashboard/")
	p.wantShown("100%")

	// Edit a template: both previews follow the text as it is typed.
	p.open(s.URL + "/dashboard/mail/templates/reset_email")
	waitFrame(p, "branch=invite", "You are invited")
	waitFrame(p, "branch=reset", "Reset your password")
	p.typeInto(`#subject`, " (edited for {{ user.email }})")
	waitFrame(p, "branch=invite", "(edited for root@example.com)", "You are invited")
	waitFrame(p, "branch=reset", "(edited for root@example.com)", "Reset your password")
	p.screenshot("template")
	if st := p.click(`#template-save`); st != http.StatusOK {
		t.Fatalf("save the template: %d", st)
	}
	p.wantShown("Template saved.")
	var saved struct{ Subject string }
	s.call(t, "GET", "/api/v2/email-templates/reset_email", tok, nil, &saved)
	if !strings.Contains(saved.Subject, "(edited for {{ user.email }})") {
		t.Fatalf("saved subject: %q", saved.Subject)
	}

	// Every main page, for a reviewer to look at.
	for _, page := range []struct{ path, name, want string }{
		{"/dashboard/users", "users", "bea@example.com"},
		{"/dashboard/mail", "mail", "SMTP server"},
		{"/dashboard/actions", "actions", "Flow: post-login"},
		{"/dashboard/applications", "applications", "Usher Dashboard"},
		{"/dashboard/connection", "connection", "Password policy"},
		{"/dashboard/logs", "logs", "Password changed"},
	} {
		if st := p.open(s.URL + page.path); st != http.StatusOK {
			t.Fatalf("%s: %d", page.path, st)
		}
		p.wantShown(page.want)
		p.screenshot(page.name)
	}
	p.open(s.URL + "/dashboard/users?q=bea")
	p.click(`table a[href*="/dashboard/users/"]`)
	p.wantShown("app_metadata", "Block", "Make administrator")
	p.screenshot("user")

	// Import a users file of 500 rows, three bad, inviting the people; the
	// job's page follows the job to its end without being reloaded.
	if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "existing@example.com", "verify_email": false}, nil); st != 201 {
		t.Fatalf("create existing: %d", st)
	}
	p.open(s.URL + "/dashboard/import")
	p.wantShown("Import a users file", "Invite the people who have no password", "No imports yet")
	if !evalIn[bool](p, `document.getElementById('invite').checked && !document.getElementById('upsert').checked`) {
		t.Fatal("the import form does not invite (and only invite) by default")
	}
	file := filepath.Join(t.TempDir(), "team.json")
	if err := os.WriteFile(file, importFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	p.do("choose the users file", chromedp.SetUploadFiles(chromedp.CSS(`#users`), []string{file}))
	p.screenshot("import")
	if st := p.click(`#import-submit`); st != http.StatusOK {
		t.Fatalf("import: %d\n%s", st, p.shown())
	}
	evalIn[bool](p, `window.usherSamePage = true`)
	waitEval(p, `document.getElementById('job-status').textContent`, "completed")
	if !evalIn[bool](p, `window.usherSamePage === true`) {
		t.Fatal("the job's page was loaded again rather than followed")
	}
	p.wantShown("The import has completed.", "Download errors", "FORMAT", "OBJECT_REQUIRED", "INVALID_TYPE")
	counts := evalIn[string](p, `['total', 'created', 'updated', 'invited', 'skipped', 'failed'].map(k => document.getElementById('count-' + k).textContent).join(' ')`)
	if counts != "500 496 0 496 1 3" {
		t.Fatalf("counts (total created updated invited skipped failed): %s", counts)
	}
	p.screenshot("import-job")
	// The download link answers the failed rows as a JSON file.
	fetchCtx, cancelFetch := context.WithTimeout(p.ctx, stepLimit)
	got, err := chromedp.Run(fetchCtx, chromedp.Evaluate[string](`fetch(document.getElementById('download-errors').href)
		.then(r => r.text().then(body => [r.status, r.headers.get('Content-Type'), r.headers.get('Content-Disposition'), JSON.parse(body).map(e => e.line).join(',')].join(' | ')))`,
		chromedp.EvalAwaitPromise))
	cancelFetch()
	if err != nil || !regexp.MustCompile(`^200 \| application/json \| attachment; filename="job_\w+-errors.json" \| 8,251,500$`).MatchString(got) {
		t.Fatalf("errors download: %q %v", got, err)
	}

	// A job still running when its page opens (one the command line holds,
	// so no job runner takes it): the page follows its progress to the end.
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	running := identity.Job{ID: "job_followedbythepage", Type: identity.JobUsersImport, Status: identity.JobPending, Connection: dbConn,
		ExternalID: "slow.json", Options: identity.ImportOptions{Format: "json", Invite: true, SkipExisting: true},
		FileBytes: 1000, BytesDone: 400, Summary: identity.JobSummary{Total: 40, Inserted: 40, Invited: 40}, CreatedAt: now.Add(-10 * time.Second), UpdatedAt: now}
	if err := db.CreateJob(context.Background(), running); err != nil {
		t.Fatal(err)
	}
	p.open(s.URL + "/dashboard/import/" + running.ID)
	p.wantShown("Import of slow.json", "The import is running.", "pending", "40%", "Time left", "about")
	evalIn[bool](p, `window.usherSamePage = true`)
	running.BytesDone, running.Summary = 700, identity.JobSummary{Total: 70, Inserted: 69, Invited: 69, Failed: 1}
	if err := db.SaveJob(context.Background(), running); err != nil {
		t.Fatal(err)
	}
	waitEval(p, `document.getElementById('job-percent').textContent`, "70%")
	p.wantShown("The import is running.")
	running.Status, running.BytesDone, running.StatusDetails = identity.JobCompleted, 1000, "Imported 100 rows."
	running.Summary = identity.JobSummary{Total: 100, Inserted: 99, Invited: 99, Failed: 1}
	if err := db.SaveJob(context.Background(), running); err != nil {
		t.Fatal(err)
	}
	waitEval(p, `document.getElementById('job-status').textContent`, "completed")
	p.wantShown("The import has completed.", "100%", "Imported 100 rows.", "!Time left")
	if !evalIn[bool](p, `window.usherSamePage === true && !document.querySelector('[data-refresh]')`) {
		t.Fatal("the running job's page was loaded again, or still refreshes after the end")
	}

	// Someone who is not an administrator is refused.
	if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "member@example.com",
		"password": adminPassword, "verify_email": false}, nil); st != 201 {
		t.Fatalf("create member: %d", st)
	}
	member := c.newTab(true)
	if st := browserSignIn(member, s.URL, "member@example.com", adminPassword); st != http.StatusForbidden {
		t.Fatalf("a member signs in: %d\n%s", st, member.shown())
	}
	member.wantShown("Not an administrator", "member@example.com", "!People")
	member.screenshot("refused")

	// The dashboard on a phone.
	phone := c.newTab(true)
	phone.phone()
	if st := browserSignIn(phone, s.URL, "root@example.com", adminPassword); st != http.StatusOK {
		t.Fatalf("sign in on a phone: %d", st)
	}
	wantNoSideways(phone)
	phone.screenshot("home-phone")
	for _, path := range []string{"/dashboard/invitations", "/dashboard/users", "/dashboard/mail/templates/reset_email", "/dashboard/logs",
		"/dashboard/import", "/dashboard/import/" + running.ID} {
		phone.open(s.URL + path)
		wantNoSideways(phone)
	}
	phone.screenshot("import-job-phone")
	phone.open(s.URL + "/dashboard/logs")
	phone.screenshot("logs-phone")
}

func TestAdminInviteCommand(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	tok := s.token(t)
	env := func(k string) string {
		return map[string]string{"USHER_URL": s.URL, "USHER_CLIENT_ID": s.ClientID, "USHER_CLIENT_SECRET": s.ClientSecret}[k]
	}
	admin := func(args ...string) (string, error) {
		var out, errOut strings.Builder
		err := run(context.Background(), append([]string{"usher", "admin"}, args...), env, systemClock{}, strings.NewReader(""), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	perms := func(email string) []map[string]any {
		t.Helper()
		var found []user
		s.call(t, "GET", "/api/v2/users-by-email?email="+url.QueryEscape(email), tok, nil, &found)
		if len(found) != 1 {
			t.Fatalf("%s has %d accounts", email, len(found))
		}
		var ps []map[string]any
		if st := s.call(t, "GET", "/api/v2/users/"+url.PathEscape(found[0].UserID)+"/permissions", tok, nil, &ps); st != 200 {
			t.Fatalf("permissions: %d", st)
		}
		return ps
	}

	// Through the API: a new person is invited, the link printed, the permission granted.
	out, err := admin("invite", "new@example.com")
	if err != nil || !strings.Contains(out, "Invited new@example.com as an administrator") || !strings.Contains(out, "/lo/reset?ticket=") {
		t.Fatalf("admin invite --url: %v\n%s", err, out)
	}
	if ps := perms("new@example.com"); len(ps) != 1 || ps[0]["permission_name"] != "usher:admin" ||
		ps[0]["resource_server_identifier"] != s.URL+"/api/v2/" || ps[0]["sources"] == nil {
		t.Fatalf("permissions: %v", ps)
	}
	// Again: a new link for the same open invitation, not a second person.
	out, err = admin("invite", "new@example.com")
	if err != nil || !strings.Contains(out, "/lo/reset?ticket=") {
		t.Fatalf("admin invite again: %v\n%s", err, out)
	}
	// Someone with an account keeps it and gets the permission, on the database too.
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "old@example.com", "password": adminPassword, "verify_email": false}, nil)
	for _, args := range [][]string{{"invite", "old@example.com"}, {"invite", "--url", "", "--db", dsn, "--public-url", s.URL, "old@example.com"}} {
		out, err = admin(args...)
		if err != nil || !strings.Contains(out, "old@example.com has an account and is now an administrator") {
			t.Fatalf("admin %v: %v\n%s", args, err, out)
		}
	}
	if ps := perms("old@example.com"); len(ps) != 1 {
		t.Fatalf("granting twice: %v", ps)
	}

	// --help, and usage errors (exit status 2).
	if _, err := admin("invite", "--help"); exitCode(err, io.Discard) != 0 {
		t.Fatalf("--help: %v", err)
	}
	for _, args := range [][]string{{}, {"nonsense"}, {"invite"}, {"invite", "a@example.com", "b@example.com"}, {"invite", "--url", "", "x@example.com"}} {
		if args := args; len(args) == 3 && args[1] == "--url" {
			var out strings.Builder
			err := run(context.Background(), append([]string{"usher", "admin"}, args...), func(string) string { return "" }, systemClock{}, strings.NewReader(""), &out, &out)
			if exitCode(err, io.Discard) != 2 {
				t.Fatalf("admin %v without a target: %v", args, err)
			}
			continue
		}
		if _, err := admin(args...); exitCode(err, io.Discard) != 2 {
			t.Fatalf("admin %v: %v, want a usage error", args, err)
		}
	}
	if _, err := admin("invite", "not-an-email"); exitCode(err, io.Discard) != 1 {
		t.Fatalf("bad email: %v, want failure", err)
	}
}

func TestUserPermissionsAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	var u user
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "p@example.com", "verify_email": false}, &u)
	path := "/api/v2/users/" + url.PathEscape(u.UserID) + "/permissions"
	body := func(rs, name string) map[string]any {
		return map[string]any{"permissions": []map[string]string{{"resource_server_identifier": rs, "permission_name": name}}}
	}
	var page struct {
		Total       int              `json:"total"`
		Permissions []map[string]any `json:"permissions"`
	}
	if st := s.call(t, "GET", path+"?include_totals=true", tok, nil, &page); st != 200 || page.Total != 0 || page.Permissions == nil {
		t.Fatalf("no permissions: %d %+v", st, page)
	}
	s.wantErr(t, "POST", path, tok, body(s.URL+"/api/v2/", "delete:everything"), 400, "invalid_body")
	s.wantErr(t, "POST", path, tok, body("https://other.example.com/", "usher:admin"), 400, "invalid_body")
	s.wantErr(t, "POST", path, tok, map[string]any{"permissions": []any{}}, 400, "invalid_body")
	s.wantErr(t, "POST", "/api/v2/users/auth0%7Cnobody/permissions", tok, body(s.URL+"/api/v2/", "usher:admin"), 404, "inexistent_user")
	// The audience's http:// spelling is the same API.
	httpAudience := strings.Replace(s.URL, "http://", "https://", 1) + "/api/v2/"
	if st := s.call(t, "POST", path, tok, body(httpAudience, "usher:admin"), nil); st != 201 {
		t.Fatalf("assign: %d", st)
	}
	if st := s.call(t, "GET", path+"?include_totals=true", tok, nil, &page); st != 200 || page.Total != 1 || page.Permissions[0]["resource_server_identifier"] != s.URL+"/api/v2/" {
		t.Fatalf("after assign: %d %+v", st, page)
	}
	if st := s.call(t, "DELETE", path, tok, body(s.URL+"/api/v2/", "usher:admin"), nil); st != 204 {
		t.Fatalf("remove: %d", st)
	}
	// Scopes: read:users to read, update:users to change.
	s.call(t, "POST", "/api/v2/clients", tok, map[string]any{"name": "reader", "app_type": "non_interactive"}, nil)
	var clients []struct {
		ClientID string `json:"client_id"`
		Name     string `json:"name"`
	}
	s.call(t, "GET", "/api/v2/clients", tok, nil, &clients)
	var reader string
	for _, c := range clients {
		if c.Name == "reader" {
			reader = c.ClientID
		}
	}
	var rotated struct {
		Secret string `json:"client_secret"`
	}
	s.call(t, "POST", "/api/v2/clients/"+reader+"/rotate-secret", tok, nil, &rotated)
	s.call(t, "POST", "/api/v2/client-grants", tok, map[string]any{"client_id": reader, "audience": s.URL + "/api/v2/", "scope": []string{"read:users"}}, nil)
	readTok := s.tokenFor(t, reader, rotated.Secret)
	if st := s.call(t, "GET", path, readTok, nil, nil); st != 200 {
		t.Fatalf("read with read:users: %d", st)
	}
	s.wantErr(t, "POST", path, readTok, body(s.URL+"/api/v2/", "usher:admin"), 403, "")
}
