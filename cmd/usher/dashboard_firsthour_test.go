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
