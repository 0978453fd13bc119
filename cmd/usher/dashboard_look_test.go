package main

// How the dashboard looks to a newcomer: every screen at a desktop width and
// at a phone's, screenshot for a reviewer, and measured in Chromium so that
// nothing runs off the side, no text is cut off, table text wraps between
// words, and the home chart's labels stay legible and apart.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// lookWidths are the screen widths every dashboard page is checked at: a
// laptop, and a phone (an iPhone 12–15's CSS pixels).
var lookWidths = []int{1280, 390}

// lookPage is one dashboard screen.
type lookPage struct{ name, path, want string }

// showAt makes the tab a screen width px wide: a desktop window, or at
// phone widths a touch phone.
func (p *browserTab) showAt(width int) {
	p.t.Helper()
	if width <= 600 {
		p.phone()
		return
	}
	p.do(fmt.Sprintf("a %dpx window", width), chromedp.EmulateViewport(int64(width), 900))
}

// lookData fills a server with what makes every screen show something, with
// the long names and addresses people have; it returns the paths of the
// screens that show one thing (a person, a mail …).
func lookData(t *testing.T, s *testServer) map[string]string {
	t.Helper()
	tok := s.token(t)
	m := mgmtAPI{t, s, tok}
	paths := map[string]string{}

	long := "maximiliane.von-wolfeschlegelsteinhausen@research.department.example.com"
	var u user
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": long, "name": "Maximiliane Adelheid von Wolfeschlegelsteinhausen-Bergerdorff",
		"password": browserStrongPassword, "verify_email": false, "app_metadata": map[string]any{"plan": "enterprise", "teams": []string{"research", "operations"}}}, 201, &u)
	paths["person"] = "/dashboard/users/" + url.PathEscape(u.UserID)
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "lin@example.com", "name": "Lin", "password": browserStrongPassword, "verify_email": false}, 201, nil)

	var inv invitation
	m.must("POST", "/usher/v1/invitations", map[string]any{"email": "bartholomew.featherstonehaugh-cholmondeley@subsidiary.example.org",
		"name": "Bartholomew Featherstonehaugh", "inviter": map[string]string{"name": "Ada"}}, 201, &inv)
	paths["invitation"] = "/dashboard/invitations/" + url.PathEscape(inv.ID)
	m.must("POST", "/usher/v1/invitations", map[string]any{"email": "kim@example.com"}, 201, nil)
	var revoked invitation
	m.must("POST", "/usher/v1/invitations", map[string]any{"email": "revoked@example.com"}, 201, &revoked)
	m.must("POST", "/usher/v1/invitations/"+revoked.ID+"/revoke", nil, 200, nil)

	mails := s.outbox(t, tok, "")
	if len(mails) == 0 {
		t.Fatal("no mail in the outbox")
	}
	paths["a mail"] = "/dashboard/mail/outbox/" + url.PathEscape(mails[0].ID)

	// Log events of several kinds: a change-password request, failed logins.
	requestResetMail(t, s, "lin@example.com")
	app := s.app(t, tok, map[string]any{"name": "Customer portal for the research department",
		"callbacks": []string{"https://portal.research.department.example.com/oauth2/callback?tenant=research-and-development"}})
	s.passwordRealm(t, app, "lin@example.com", "not-the-password", "openid")
	s.passwordRealm(t, app, "nobody@example.com", "not-the-password", "openid")
	s.passwordRealm(t, app, "lin@example.com", browserStrongPassword, "openid")

	var a actionBody
	m.must("POST", "/api/v2/actions/actions", map[string]any{"name": "Clear the invitation flag at first login",
		"supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}}, "code": invitationAction}, 201, &a)
	paths["action"] = "/dashboard/actions/" + url.PathEscape(a.ID)

	st, job, e := s.postImport(t, tok, usersFile(5, "imported-person-with-a-long-address-", map[int]string{3: `{"email":"not-an-email"}`}),
		"people-from-the-old-system.json", map[string]string{"connection_id": s.connectionID(t, tok), "send_completion_email": "false",
			"external_id": "people-from-the-old-system.json"})
	if st != http.StatusAccepted {
		t.Fatalf("import: %d %+v", st, e)
	}
	s.waitJob(t, tok, job.ID)
	paths["import job"] = "/dashboard/import/" + url.PathEscape(job.ID)
	return paths
}

// lookPages are the dashboard's screens, in the order of the menu.
func lookPages(paths map[string]string) []lookPage {
	return []lookPage{
		{"home", "/dashboard/", "Invitations per day"},
		{"people", "/dashboard/users", "maximiliane"},
		{"person", paths["person"], "app_metadata"},
		{"invitations", "/dashboard/invitations", "Invite people"},
		{"invitation", paths["invitation"], "History"},
		{"import", "/dashboard/import", "Import a users file"},
		{"import job", paths["import job"], "people-from-the-old-system.json"},
		{"mail", "/dashboard/mail", "SMTP server"},
		{"template", "/dashboard/mail/templates/reset_email", "Preview invitation"},
		{"outbox", "/dashboard/mail/outbox", "Last reply"},
		{"a mail", paths["a mail"], "Plain text"},
		{"actions", "/dashboard/actions", "Flow: post-login"},
		{"action", paths["action"], "Clear the invitation flag"},
		{"applications", "/dashboard/applications", "Customer portal"},
		{"sign-up", "/dashboard/connection", "Password policy"},
		{"logs", "/dashboard/logs", "lin@example.com"},
	}
}

// signedInTab is a tab of c signed in to the dashboard as a new
// administrator.
func signedInTab(t *testing.T, c *chrome, s *testServer, dsn string) *browserTab {
	t.Helper()
	link := adminInvite(t, dsn, s.URL, "root@example.com")
	if resp, body := setPassword(t, browser(t), s.URL, link, adminPassword); resp.StatusCode != http.StatusOK {
		t.Fatalf("accept the admin's invitation: %d\n%s", resp.StatusCode, body)
	}
	p := c.newTab(false)
	if st := browserSignIn(p, s.URL, "root@example.com", adminPassword); st != http.StatusOK {
		t.Fatalf("sign in: %d\n%s", st, p.shown())
	}
	return p
}

func TestBrowserDashboardLook(t *testing.T) {
	chromiumPath(t)
	dsn := sqliteDSN(t)
	// An SMTP server where nothing listens: the Mail page has a server in
	// use to show, and the outbox fills with failed attempts and replies.
	s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": "smtp://a-long-user-name-for-the-relay:secret@127.0.0.1:" + strings.Split(freeAddr(t), ":")[1]})
	paths := lookData(t, s)
	c := startChromium(t)
	p := signedInTab(t, c, s, dsn)
	for _, width := range lookWidths {
		p.showAt(width)
		for _, page := range lookPages(paths) {
			if st := p.open(s.URL + page.path); st != http.StatusOK {
				t.Fatalf("%s (%s): %d\n%s", page.name, page.path, st, p.shown())
			}
			p.wantShown(page.want)
			p.screenshot(fmt.Sprintf("%s-%d", strings.ReplaceAll(page.name, " ", "-"), width))
			p.wantLooksRight(page.name, width)
		}
		// An application just made, its id and secret shown.
		p.open(s.URL + "/dashboard/applications")
		p.typeInto(`#app-name`, fmt.Sprintf("Reporting service of the finance department (%dpx)", width))
		p.typeInto(`#app-callbacks`, "https://reports.finance.example.com/oauth2/callback")
		if st := p.click(`#create-app`); st != http.StatusOK {
			t.Fatalf("create an application: %d\n%s", st, p.shown())
		}
		p.wantShown("is created", "Client secret")
		p.screenshot(fmt.Sprintf("application-created-%d", width))
		p.wantLooksRight("application created", width)
	}
}

// TestBrowserDashboardPhoneMenu: on a phone the dashboard's links fold
// behind one menu button, a disclosure a screen reader announces; on a
// laptop the links show and the button does not.
func TestBrowserDashboardPhoneMenu(t *testing.T) {
	chromiumPath(t)
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	c := startChromium(t)
	p := signedInTab(t, c, s, dsn)

	p.showAt(390)
	p.open(s.URL + "/dashboard/")
	p.wantVisible(`.menu-button`)
	p.wantHidden(`nav a[href$="/logs"]`, `.signout button`)
	if got := evalIn[string](p, `[...document.querySelectorAll('.menu-button')].map(b => b.tagName + ' ' + b.type + ' ' + b.getAttribute('aria-expanded') + ' ' +
		(document.getElementById(b.getAttribute('aria-controls')) || {}).id + ' ' + b.textContent.trim()).join(', ')`); got != "BUTTON button false menu Menu" {
		t.Fatalf("the menu button (tag, type, aria-expanded, the menu it controls, its text): %q", got)
	}
	if h := evalIn[float64](p, `document.querySelector('header').getBoundingClientRect().height`); h > 64 {
		t.Fatalf("the closed menu leaves a header %vpx high: one row is at most 64px", h)
	}
	p.screenshot("menu-closed-390")

	p.do("open the menu", chromedp.Click(chromedp.CSS(`.menu-button`)))
	if got := evalIn[string](p, `document.querySelector('.menu-button').getAttribute('aria-expanded')`); got != "true" {
		t.Fatalf("after a click aria-expanded is %q", got)
	}
	p.wantVisible(`nav a[href$="/logs"]`, `nav a[href$="/users"]`, `.signout button`)
	p.wantLooksRight("home with the menu open", 390)
	p.screenshot("menu-open-390")

	// Escape closes it and leaves the focus on the button.
	p.do("press Escape", chromedp.KeyEvent("\x1b"))
	if got := evalIn[string](p, `document.querySelector('.menu-button').getAttribute('aria-expanded') + ' ' + document.activeElement.className`); got != "false menu-button" {
		t.Fatalf("after Escape (aria-expanded, the focus): %q", got)
	}
	p.wantHidden(`nav a[href$="/logs"]`)

	// A link of the menu leads to its page.
	p.do("open the menu", chromedp.Click(chromedp.CSS(`.menu-button`)))
	if st := p.click(`nav a[href$="/logs"]`); st != http.StatusOK {
		t.Fatalf("the menu's Logs link: %d", st)
	}
	p.wantShown("Logs")
	p.wantHidden(`nav a[href$="/users"]`)

	// On a laptop the links show, and no menu button.
	p.showAt(1280)
	p.open(s.URL + "/dashboard/")
	p.wantHidden(`.menu-button`)
	p.wantVisible(`nav a[href$="/logs"]`, `nav a[href$="/users"]`, `.signout button`)
}

// TestBrowserDashboardRevokeLooksDangerous: Revoke, which kills a link for
// good, looks unlike Resend (the danger colour) and asks first; saying no
// leaves the invitation alone.
func TestBrowserDashboardRevokeLooksDangerous(t *testing.T) {
	chromiumPath(t)
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	m := mgmtAPI{t, s, s.token(t)}
	var inv invitation
	m.must("POST", "/usher/v1/invitations", map[string]any{"email": "kim@example.com"}, 201, &inv)
	c := startChromium(t)
	p := signedInTab(t, c, s, dsn)
	const danger = "rgb(179, 38, 30)" // --error in dashboard.css

	for _, page := range []struct{ path, resend, revoke string }{
		{"/dashboard/invitations", `form[action$="/resend"] button`, `form[action$="/revoke"] button`},
		{"/dashboard/invitations/" + inv.ID, `form[action$="/resend"] button`, `form[action$="/revoke"] button`},
	} {
		p.open(s.URL + page.path)
		p.wantVisible(page.resend, page.revoke)
		look := func(sel string) string {
			return evalIn[string](p, fmt.Sprintf(`(() => { const s = getComputedStyle(document.querySelector(%q)); return s.backgroundColor + ' ' + s.color; })()`, sel))
		}
		resend, revoke := look(page.resend), look(page.revoke)
		if !strings.HasPrefix(revoke, danger+" ") || strings.HasPrefix(resend, danger) || resend == revoke {
			t.Errorf("%s: Resend looks %q and Revoke %q; Revoke should have the danger background %s", page.path, resend, revoke, danger)
		}
		if !evalIn[bool](p, `document.querySelector('form[action$="/revoke"]').hasAttribute('data-confirm')`) {
			t.Errorf("%s: Revoke does not ask first", page.path)
		}
		p.screenshot("revoke-" + strings.Trim(strings.ReplaceAll(strings.TrimPrefix(page.path, "/dashboard/"), "/", "-"), "-"))
	}

	// Saying no to the question revokes nothing; saying yes revokes.
	evalIn[bool](p, `(window.confirm = () => false, true)`)
	p.do("click Revoke and say no", chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)))
	var got invitation
	m.must("GET", "/usher/v1/invitations/"+inv.ID, nil, 200, &got)
	if got.Status != "pending" {
		t.Fatalf("after saying no, the invitation is %s", got.Status)
	}
	evalIn[bool](p, `(window.confirm = () => true, true)`)
	if st := p.click(`form[action$="/revoke"] button`); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	p.wantShown("The invitation is revoked")
	m.must("GET", "/usher/v1/invitations/"+inv.ID, nil, 200, &got)
	if got.Status != "revoked" {
		t.Fatalf("after saying yes, the invitation is %s", got.Status)
	}
}
