package main

// A newcomer's first hour in the dashboard, over HTTP: what the Logs page
// says of each event, which SMTP server the Mail page says is in use, how
// long links last, and an application made from the Applications page.

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cellText is the text of an HTML fragment: tags dropped, entities read,
// spaces collapsed.
func cellText(fragment string) string {
	text := html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(fragment, " "))
	return strings.Join(strings.Fields(text), " ")
}

// tableCells reads the cells labelled label of each row of a page's
// stacked tables.
func tableCells(page, label string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<td data-label="`+regexp.QuoteMeta(label)+`">(.*?)</td>`).FindAllStringSubmatch(page, -1) {
		out = append(out, cellText(m[1]))
	}
	return out
}

// TestDashboardLogsInWords: the Logs page names each event's type in words
// and says what happened on every row, also for events Usher writes without
// a description (a change-password request).
func TestDashboardLogsInWords(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		admin := newAdmin(t, s, dsn, "root@example.com")
		m := mgmtAPI{t, s, tok}
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "lin@example.com", "password": adminPassword, "verify_email": false}, 201, nil)
		app := s.app(t, tok, nil)
		s.passwordRealm(t, app, "lin@example.com", "wrong-password", "openid")
		s.passwordRealm(t, app, "nobody@example.com", "wrong-password", "openid")
		requestResetMail(t, s, "lin@example.com")

		var page string
		waitFor(t, 10*time.Second, "the change-password request in the Logs page", func() bool {
			_, page = admin.get("/dashboard/logs")
			return strings.Contains(page, "<code class=\"muted\">scpr</code>")
		})
		types, whats := tableCells(page, "Type"), tableCells(page, "What")
		if len(types) < 5 || len(types) != len(whats) {
			t.Fatalf("rows: %d types, %d descriptions\n%s", len(types), len(whats), page)
		}
		for i := range types {
			if !strings.Contains(types[i], " ") || whats[i] == "" {
				t.Errorf("row %d: type %q, what %q: want the type in words and what happened", i, types[i], whats[i])
			}
		}
		for _, want := range []string{
			"Success Change Password Request scpr | A password-change mail (an invitation or a reset) was asked for and sent.",
			"Failed Login (Incorrect Password) fp | Wrong email or password.",
			"Failed Login (Invalid Email/Username) fu | Wrong email or password.",
			"Success Login s | Successful login",
		} {
			found := false
			for i := range types {
				found = found || types[i]+" | "+whats[i] == want
			}
			if !found {
				t.Errorf("no row %q among:\n%s", want, strings.Join(types, "\n"))
			}
		}
		// The filter names the types in words too.
		if !strings.Contains(page, `<option value="scpr">Success Change Password Request (scpr)</option>`) {
			t.Errorf("the type filter does not name scpr in words")
		}
	})
}

// inUseSection is the Mail page's account of the SMTP server in use.
func inUseSection(t *testing.T, u *dashUser) string {
	t.Helper()
	st, page := u.get("/dashboard/mail")
	if st != 200 {
		t.Fatalf("the Mail page: %d\n%s", st, page)
	}
	m := regexp.MustCompile(`(?s)<section aria-labelledby="in-use-title" id="smtp-in-use">(.*?)</section>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the Mail page does not say which SMTP server is in use:\n%s", page)
	}
	return cellText(m[1])
}

// wantSays checks that text says each of want, and none of the "!" ones.
func wantSays(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if absent, ok := strings.CutPrefix(w, "!"); ok {
			if strings.Contains(text, absent) {
				t.Errorf("%s says %q, and should not: %s", what, absent, text)
			}
		} else if !strings.Contains(text, w) {
			t.Errorf("%s does not say %q: %s", what, w, text)
		}
	}
}

// TestDashboardMailShowsTheServerInUse: the Mail page says which SMTP server
// serve sends through (host, port, user, TLS, where it was set), never its
// password, and says so plainly when there is none.
func TestDashboardMailShowsTheServerInUse(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		// No SMTP at all.
		s := startServer(t, dsn, nil)
		admin := newAdmin(t, s, dsn, "root@example.com")
		wantSays(t, "without SMTP, the Mail page", inUseSection(t, admin), "SMTP: not configured: mail waits in the outbox", "!Mail is sent")
		s.stop()

		// USHER_SMTP_URL, the mail waiting from before included (nothing
		// listens there: the test reads the page, not the mail).
		const envPassword = "env-s3cret-passw0rd"
		port := strings.Split(freeAddr(t), ":")[1]
		s = startServer(t, dsn, map[string]string{"USHER_SMTP_URL": "smtp://mailer:" + envPassword + "@127.0.0.1:" + port,
			"USHER_MAIL_FROM": "Acme Accounts <accounts@acme.example>"})
		admin = signIn(t, s, "root@example.com", adminPassword)
		wantSays(t, "with USHER_SMTP_URL, the Mail page", inUseSection(t, admin),
			"Mail is sent over SMTP through 127.0.0.1:"+port, "Server 127.0.0.1", "Port "+port, "Security STARTTLS when the server offers it",
			"User name mailer", "Password set (never shown)", "Default From Acme Accounts <accounts@acme.example>", "Set by USHER_SMTP_URL or --smtp-url",
			"!"+envPassword, "!not configured")

		// A provider saved on the page takes its place.
		const providerPassword = "provider-s3cret-passw0rd"
		form := func(enabled bool) map[string][]string {
			f := map[string][]string{"_csrf": {admin.csrf()}, "host": {"localhost"}, "port": {"465"}, "user": {"apikey"},
				"password": {providerPassword}, "from": {"Acme <hello@acme.example>"}}
			if enabled {
				f["enabled"] = []string{"on"}
			}
			return f
		}
		if st, page := admin.post("/dashboard/mail/provider", form(true)); st != 303 {
			t.Fatalf("save the provider: %d\n%s", st, page)
		}
		section := inUseSection(t, admin)
		wantSays(t, "with a provider, the Mail page", section,
			"Mail is sent over SMTP through localhost:465", "Security TLS from the first byte (smtps)", "User name apikey",
			"Password set (never shown)", "Default From Acme <hello@acme.example>", "Set by the SMTP server below",
			"!"+providerPassword, "!"+envPassword, "!127.0.0.1", "!USHER_SMTP_URL or")
		if _, page := admin.get("/dashboard/mail"); strings.Contains(page, providerPassword) || strings.Contains(page, envPassword) {
			t.Fatal("the Mail page shows a password")
		}

		// Turned off: mail waits, whatever USHER_SMTP_URL says.
		if st, page := admin.post("/dashboard/mail/provider", form(false)); st != 303 {
			t.Fatalf("turn the provider off: %d\n%s", st, page)
		}
		wantSays(t, "with the provider off, the Mail page", inUseSection(t, admin), "Not sending: the SMTP server below is turned off", "!Mail is sent")

		// Removed: USHER_SMTP_URL again.
		if st, page := admin.post("/dashboard/mail/provider/delete", map[string][]string{"_csrf": {admin.csrf()}}); st != 303 {
			t.Fatalf("remove the provider: %d\n%s", st, page)
		}
		wantSays(t, "after removing the provider, the Mail page", inUseSection(t, admin), "through 127.0.0.1:"+port, "Set by USHER_SMTP_URL")
	})
}

// invitationLife is how long an invitation's link lives, from its
// timestamps.
func invitationLife(t *testing.T, m mgmtAPI, email string) time.Duration {
	t.Helper()
	var list struct {
		Invitations []struct {
			CreatedAt string `json:"created_at"`
			ExpiresAt string `json:"expires_at"`
		} `json:"invitations"`
	}
	m.must("GET", "/usher/v1/invitations?include_totals=true&email="+email, nil, 200, &list)
	if len(list.Invitations) != 1 {
		t.Fatalf("invitations of %s: %+v", email, list)
	}
	created, err1 := time.Parse(time.RFC3339, list.Invitations[0].CreatedAt)
	expires, err2 := time.Parse(time.RFC3339, list.Invitations[0].ExpiresAt)
	if err1 != nil || err2 != nil {
		t.Fatalf("invitation times: %+v", list.Invitations[0])
	}
	return expires.Sub(created).Round(time.Minute)
}

// TestDashboardOneLinkLifetime: how long invitation and reset links live is
// one setting, the reset_email template's link lifetime: the invite form
// and the Mail page say it, and the links made from the dashboard, the API
// and resets follow it.
func TestDashboardOneLinkLifetime(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		m := mgmtAPI{t, s, s.token(t)}
		admin := newAdmin(t, s, dsn, "root@example.com")
		says := func(days string) {
			t.Helper()
			_, page := admin.get("/dashboard/invitations")
			if m := regexp.MustCompile(`(?s)<p class="muted" id="link-lifetime">(.*?)</p>`).FindStringSubmatch(page); m == nil ||
				!strings.HasPrefix(cellText(m[1]), "Each link works for "+days+",") {
				t.Errorf("the invite form does not say links last %s:\n%v", days, m)
			}
			_, page = admin.get("/dashboard/mail")
			row := regexp.MustCompile(`(?s)<tr id="template-reset_email">(.*?)</tr>`).FindStringSubmatch(page)
			if row == nil || tableCells(row[1], "Links last")[0] != days || tableCells(row[1], "Usher sends it for")[0] != "Invitations and password resets" {
				t.Errorf("the Mail page's reset_email row does not say links last %s: %v", days, row)
			}
			_, page = admin.get("/dashboard/mail/templates/reset_email")
			if !strings.Contains(page, "Its links last "+days+" (the link lifetime below).") {
				t.Errorf("the reset_email template's page does not say links last %s", days)
			}
		}

		// Out of the box: five days, for invitations from the dashboard
		// and from the API alike.
		says("5 days")
		if st, page := admin.post("/dashboard/invitations", map[string][]string{"_csrf": {admin.csrf()}, "emails": {"ada@example.com"}}); st != 200 {
			t.Fatalf("invite from the dashboard: %d\n%s", st, page)
		}
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "bob@example.com"}, 201, nil)
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if life := invitationLife(t, m, email); life != 5*24*time.Hour {
				t.Errorf("%s's link lives %v, the page says 5 days", email, life)
			}
		}

		// Three days on the template editor: everything follows.
		_, page := admin.get("/dashboard/mail/templates/reset_email")
		form := map[string][]string{"_csrf": {admin.csrf()}, "lifetime": {"259200"}, "enabled": {"on"}, "include_email": {"on"}}
		for _, field := range []string{"subject", "from", "result_url"} {
			m := regexp.MustCompile(`id="` + field + `" name="` + field + `" value="([^"]*)"`).FindStringSubmatch(page)
			if m != nil {
				form[field] = []string{html.UnescapeString(m[1])}
			}
		}
		form["body"] = []string{html.UnescapeString(regexp.MustCompile(`(?s)<textarea id="body"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)[1])}
		if st, page := admin.post("/dashboard/mail/templates/reset_email", form); st != 303 {
			t.Fatalf("save a 3-day lifetime: %d\n%s", st, page)
		}
		says("3 days")
		if st, page := admin.post("/dashboard/invitations", map[string][]string{"_csrf": {admin.csrf()}, "emails": {"cy@example.com"}}); st != 200 {
			t.Fatalf("invite from the dashboard: %d\n%s", st, page)
		}
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "dee@example.com"}, 201, nil)
		for _, email := range []string{"cy@example.com", "dee@example.com"} {
			if life := invitationLife(t, m, email); life != 3*24*time.Hour {
				t.Errorf("%s's link lives %v, the page says 3 days", email, life)
			}
		}
		// A link asked for explicitly keeps its own lifetime.
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "eve@example.com", "ttl_sec": 3600}, 201, nil)
		if life := invitationLife(t, m, "eve@example.com"); life != time.Hour {
			t.Errorf("an invitation with ttl_sec 3600 lives %v", life)
		}

		// A template Usher never sends says so, and where to go instead.
		_, page = admin.get("/dashboard/mail/templates/user_invitation")
		if !strings.Contains(cellText(page), "Usher does not send this template") {
			t.Error("the user_invitation template's page does not say Usher never sends it")
		}
	})
}

// TestDashboardCreateApplication: an administrator makes an application on
// the Applications page (name, kind, callbacks) and sees its client id and,
// this once, its secret, which works; the form carries a CSRF token, and a
// bad callback or a missing name is a 400 that makes nothing.
func TestDashboardCreateApplication(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		m := mgmtAPI{t, s, tok}
		admin := newAdmin(t, s, dsn, "root@example.com")
		clients := func() int {
			var cs []client
			m.must("GET", "/api/v2/clients", nil, 200, &cs)
			return len(cs)
		}
		before := clients()
		create := func(form map[string][]string) (int, string) {
			t.Helper()
			if _, ok := form["_csrf"]; !ok {
				form["_csrf"] = []string{admin.csrf()}
			}
			return admin.post("/dashboard/applications", form)
		}

		// Refused: no CSRF token, a bad callback, no name, an unknown kind.
		if st, page := admin.post("/dashboard/applications", map[string][]string{"name": {"Forged"}, "app_type": {"regular_web"}}); st != 403 || !strings.Contains(page, "This form expired") {
			t.Fatalf("without a CSRF token: %d", st)
		}
		for _, bad := range []struct {
			form map[string][]string
			says string
		}{
			{map[string][]string{"name": {"Billing portal"}, "app_type": {"regular_web"}, "callbacks": {"https://billing.example.com/cb\nnot a url"}}, `"not a url" is not`},
			{map[string][]string{"name": {"Billing portal"}, "app_type": {"regular_web"}, "callbacks": {"javascript://billing.example.com/cb"}}, "callbacks"},
			{map[string][]string{"name": {"  "}, "app_type": {"regular_web"}}, "Give the application a name."},
			{map[string][]string{"name": {"Billing portal"}, "app_type": {"rms"}}, "Choose the kind of application."},
		} {
			st, page := create(bad.form)
			if st != 400 || !strings.Contains(html.UnescapeString(page), "Not created:") || !strings.Contains(html.UnescapeString(page), bad.says) {
				t.Errorf("%v: %d, want 400 saying %q\n%s", bad.form, st, bad.says, cellText(page))
			}
			if strings.TrimSpace(bad.form["name"][0]) != "" && !strings.Contains(page, `value="`+bad.form["name"][0]+`"`) {
				t.Errorf("%v: the name typed is not kept", bad.form)
			}
		}
		if n := clients(); n != before {
			t.Fatalf("refused forms made %d clients", n-before)
		}

		// A regular web application: its id and secret, shown this once.
		st, page := create(map[string][]string{"name": {"Billing portal"}, "app_type": {"regular_web"},
			"callbacks": {"https://billing.example.com/callback\r\n\r\nhttps://billing.example.com/other"}})
		if st != 200 || !strings.Contains(page, "Billing portal is created") {
			t.Fatalf("create: %d\n%s", st, cellText(page))
		}
		id, secret := hiddenValue(page, "created-client-id"), hiddenValue(page, "created-client-secret")
		if id == "" || len(secret) < 32 {
			t.Fatalf("the page shows client id %q and secret %q", id, secret)
		}
		var c client
		m.must("GET", "/api/v2/clients/"+id, nil, 200, &c)
		if c.Name != "Billing portal" || c.AppType != "regular_web" || strings.Join(c.Callbacks, " ") != "https://billing.example.com/callback https://billing.example.com/other" ||
			c.TokenEndpointAuthMethod != "client_secret_post" || c.ClientSecret != "" {
			t.Fatalf("the client made: %+v", c)
		}
		m.must("POST", "/api/v2/client-grants", map[string]any{"client_id": id, "audience": s.URL + "/api/v2/", "scope": []string{"read:users"}}, 201, nil)
		if s.tokenFor(t, id, secret) == "" {
			t.Fatal("the secret shown gets no token")
		}
		if _, page := admin.get("/dashboard/applications"); strings.Contains(page, secret) || !strings.Contains(page, id) {
			t.Fatal("the applications page shows the secret again, or not the new client")
		}

		// A single-page application is public: no secret to show.
		st, page = create(map[string][]string{"name": {"Storefront"}, "app_type": {"spa"}, "callbacks": {"https://shop.example.com/"}})
		if st != 200 || hiddenValue(page, "created-client-id") == "" || hiddenValue(page, "created-client-secret") != "" ||
			!strings.Contains(page, "A public client") {
			t.Fatalf("create a SPA: %d\n%s", st, cellText(page))
		}
		if n := clients(); n != before+2 {
			t.Fatalf("%d clients made, want 2", n-before)
		}
	})
}

// hiddenValue is the value of the read-only field id of a page, "" when
// there is none.
func hiddenValue(page, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
