package main

// Real-browser tests of the hosted pages a newcomer meets in the first hour:
// the login page's links (sign up, back to log in, forgot password), the
// landing page, the next step after a link is used, and each page's
// polish. Every page is reached by clicking, as a person does; only the
// first page of a walk (the application's /authorize, a mailed link) is
// opened by its address.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// callbackApp is an application's callback endpoint on this machine: the
// browser lands there after a login, and the test reads what it got.
type callbackApp struct {
	URL  string // the callback URL to register
	Base string // the application's origin

	mu   sync.Mutex
	last url.Values
}

func startCallbackApp(t *testing.T) *callbackApp {
	t.Helper()
	a := &callbackApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/callback":
			a.mu.Lock()
			a.last = r.URL.Query()
			a.mu.Unlock()
			fmt.Fprintf(w, "<!doctype html><title>Acme callback</title><h1>Back at the application</h1>")
		case "/login": // the application's login route (initiate_login_uri)
			fmt.Fprintf(w, "<!doctype html><title>Acme</title><h1>The application's login</h1>")
		case "/logo.svg": // the tenant's logo, on a host of its own
			w.Header().Set("Content-Type", "image/svg+xml")
			fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40"><rect width="160" height="40" fill="#8a2be2"/></svg>`)
		case "/welcome": // a link's result_url
			fmt.Fprintf(w, "<!doctype html><title>Acme</title><h1>The application's welcome</h1>")
		default: // the browser asks for /favicon.ico too
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	a.URL, a.Base = srv.URL+"/callback", srv.URL
	return a
}

// got is the query of the last request the application received.
func (a *callbackApp) got() url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// authorizeURL is the address an application sends a person to for a login.
func authorizeURL(s *testServer, clientID, callback, state string) string {
	return s.URL + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callback},
		"scope": {"openid profile email"}, "state": {state}}.Encode()
}

// clickLink clicks the link whose text is text, waits for the page it leads
// to and returns its status.
func (p *browserTab) clickLink(text string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepLimit)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[normalize-space()=%q]`, text))))
	if err != nil {
		p.t.Fatalf("click the link %q: %v\npage:\n%s", text, err, p.shown())
	}
	p.noScriptErrors()
	return int(resp.Status)
}

// location is the address the tab shows.
func (p *browserTab) location() *url.URL {
	p.t.Helper()
	u, err := url.Parse(evalIn[string](p, `location.href`))
	if err != nil {
		p.t.Fatal(err)
	}
	return u
}

// wantAuthorizeQuery checks that the tab's address carries the
// authorization request of authorize, parameter for parameter.
func (p *browserTab) wantAuthorizeQuery(authorize string) {
	p.t.Helper()
	want, _ := url.Parse(authorize)
	got := p.location().Query()
	for k, v := range want.Query() {
		if got.Get(k) != v[0] {
			p.t.Fatalf("the page's address %s has %s=%q, want %q", p.location(), k, got.Get(k), v[0])
		}
	}
}

func TestBrowserLoginPageSignupLinks(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		app := startCallbackApp(t)
		web := s.app(t, tok, map[string]any{"name": "Acme Notes", "callbacks": []string{app.URL}})
		authorize := authorizeURL(s, web.ClientID, app.URL, "st4te/with spaces&more")

		c := startChromium(t)
		p := c.newTab(true)
		if st := p.open(authorize); st != http.StatusOK {
			t.Fatalf("login page: %d\n%s", st, p.shown())
		}
		if st := p.clickLink("Sign up"); st != http.StatusOK {
			t.Fatalf("sign-up page: %d\n%s", st, p.shown())
		}
		p.wantShown("Create your account", "!Unknown client")
		p.wantVisible(`#email`, `#password`)
		p.wantAuthorizeQuery(authorize)

		// Back to log in and forth again: the request is kept each way.
		if st := p.clickLink("Back to log in"); st != http.StatusOK {
			t.Fatalf("back to log in: %d\n%s", st, p.shown())
		}
		p.wantVisible(`#username`, `#password`)
		p.wantShown("Log in", "!Unknown client")
		if got := p.location().Path; got != "/authorize" {
			t.Fatalf("back to log in leads to %s", got)
		}
		p.wantAuthorizeQuery(authorize)
		if st := p.clickLink("Sign up"); st != http.StatusOK {
			t.Fatalf("sign-up page again: %d\n%s", st, p.shown())
		}

		p.typeInto(`#email`, "newcomer@example.com")
		p.typeInto(`#password`, browserStrongPassword)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			t.Fatalf("sign up: %d\n%s", st, p.shown())
		}
		p.wantShown("Back at the application")
		if got := app.got(); got.Get("code") == "" || got.Get("state") != "st4te/with spaces&more" {
			t.Fatalf("the application got %v, want a code and its state", got)
		}
		var users []user
		m := mgmtAPI{t, s, tok}
		m.must("GET", "/api/v2/users-by-email?email=newcomer%40example.com", nil, 200, &users)
		if len(users) != 1 {
			t.Fatalf("after signing up, users with the email: %+v", users)
		}
	})
}

// logsOf returns the tenant log's events of the types in query (Auth0's
// q syntax), oldest first.
func logsOf(t *testing.T, s *testServer, tok, query string) []map[string]any {
	t.Helper()
	var logs []map[string]any
	if st := s.call(t, "GET", "/api/v2/logs?q="+url.QueryEscape(query)+"&sort=date:1", tok, nil, &logs); st != http.StatusOK {
		t.Fatalf("logs: %d", st)
	}
	return logs
}

// outboxCountTo is how many mails of the outbox go to email.
func outboxCountTo(t *testing.T, s *testServer, tok, email string) int {
	t.Helper()
	n := 0
	for _, m := range s.outbox(t, tok, "") {
		if strings.Contains(m.To, email) {
			n++
		}
	}
	return n
}

func TestBrowserForgotPassword(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil) // no SMTP: mail stays in the outbox
		tok := s.token(t)
		m := mgmtAPI{t, s, tok}
		app := startCallbackApp(t)
		web := s.app(t, tok, map[string]any{"name": "Acme Notes", "callbacks": []string{app.URL}})
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "ana@example.com", "password": "Old-Passw0rd!", "verify_email": false}, 201, nil)
		authorize := authorizeURL(s, web.ClientID, app.URL, "st4te")
		c := startChromium(t)

		// forgot walks from a failed login to the confirmation for email
		// and returns what the confirmation says.
		forgot := func(p *browserTab, email string) string {
			t.Helper()
			if st := p.open(authorize); st != http.StatusOK {
				t.Fatalf("login page: %d\n%s", st, p.shown())
			}
			p.typeInto(`#username`, email)
			p.typeInto(`#password`, "not-my-password")
			if st := p.click(`button[type=submit]`); st != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d\n%s", st, p.shown())
			}
			p.wantShown("Wrong email or password.")
			if st := p.clickLink("Forgot password?"); st != http.StatusOK {
				t.Fatalf("forgot password: %d\n%s", st, p.shown())
			}
			p.wantShown("Forgot your password?")
			p.wantVisible(`#email`, `button[type=submit]`)
			if got := p.location().Path; got != "/u/reset-password/request/"+dbConn {
				t.Fatalf("the reset-password request page is at %s", got)
			}
			p.typeInto(`#email`, email)
			if st := p.click(`button[type=submit]`); st != http.StatusOK {
				t.Fatalf("send the link: %d\n%s", st, p.shown())
			}
			p.wantShown("Check your email", email, "Back to log in")
			return strings.ReplaceAll(p.shown(), email, "EMAIL")
		}

		p := c.newTab(true)
		known := forgot(p, "ana@example.com")
		waitFor(t, 10*time.Second, "the reset mail to ana", func() bool { return outboxCountTo(t, s, tok, "ana@example.com") == 1 })

		// Back to the same login.
		if st := p.clickLink("Back to log in"); st != http.StatusOK {
			t.Fatalf("back to log in: %d\n%s", st, p.shown())
		}
		p.wantVisible(`#username`, `#password`)
		p.wantAuthorizeQuery(authorize)

		// An unknown email gets the same page, and no mail.
		unknown := forgot(c.newTab(true), "nobody@example.com")
		if unknown != known {
			t.Fatalf("the page differs for an unknown email:\n%s\n---- for a known one:\n%s", unknown, known)
		}
		waitFor(t, 10*time.Second, "the failed request in the log", func() bool {
			for _, e := range logsOf(t, s, tok, "type:fcpr") {
				if e["user_name"] == "nobody@example.com" {
					return true
				}
			}
			return false
		})
		if n := outboxCountTo(t, s, tok, "nobody@example.com"); n != 0 {
			t.Fatalf("%d mails to an email without an account", n)
		}
		if n := outboxCountTo(t, s, tok, "ana@example.com"); n != 1 {
			t.Fatalf("%d mails to ana, want 1", n)
		}
	})
}

// TestPagesForgotPasswordGuards checks the reset-password request form's
// guards over plain HTTP: a form without its CSRF token sends nothing, and
// a connection that closes self-service reset shows no link and no form.
func TestPagesForgotPasswordGuards(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	m := mgmtAPI{t, s, tok}
	web := s.app(t, tok, nil)
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "ana@example.com", "password": "Old-Passw0rd!", "verify_email": false}, 201, nil)
	authorize := authorizeURL(s, web.ClientID, "https://app.example.com/callback", "st4te")
	forgot := s.URL + "/u/reset-password/request/" + dbConn

	c := browser(t)
	if st, page := get(t, c, authorize); st != 200 || !strings.Contains(page, "Forgot password?") {
		t.Fatalf("login page: %d, want a Forgot password? link\n%s", st, page)
	}
	resp, err := c.PostForm(forgot, url.Values{"email": {"ana@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the form without its CSRF token: %d, want 403", resp.StatusCode)
	}
	st, page := get(t, c, forgot+"?"+strings.SplitN(authorize, "?", 2)[1])
	if st != 200 {
		t.Fatalf("reset-password request page: %d", st)
	}
	resp, err = c.PostForm(forgot, url.Values{"_csrf": {csrfField.FindStringSubmatch(page)[1]}, "email": {""}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `aria-invalid="true"`) {
		t.Fatalf("an empty email: %d, want 400 with the field marked\n%s", resp.StatusCode, body)
	}
	if n := outboxCountTo(t, s, tok, "ana@example.com"); n != 0 {
		t.Fatalf("refused forms sent %d mails", n)
	}

	var conns []map[string]any
	m.must("GET", "/api/v2/connections?name="+dbConn, nil, 200, &conns)
	opts := conns[0]["options"].(map[string]any)
	opts["disable_self_service_change_password"] = true
	m.must("PATCH", "/api/v2/connections/"+conns[0]["id"].(string), map[string]any{"options": opts}, 200, nil)
	if st, page := get(t, c, authorize); st != 200 || strings.Contains(page, "Forgot password?") {
		t.Fatalf("with disable_self_service_change_password the login page still offers a reset: %d", st)
	}
	if st, _ := get(t, c, forgot); st != http.StatusNotFound {
		t.Fatalf("with disable_self_service_change_password the request page answers %d, want 404", st)
	}
	if st, _ := get(t, c, s.URL+"/u/reset-password/request/No-Such-Connection"); st != http.StatusNotFound {
		t.Fatalf("an unknown connection's request page answers %d, want 404", st)
	}
}

func TestBrowserHomePage(t *testing.T) {
	chromiumPath(t)
	s := startServer(t, sqliteDSN(t), nil)
	m := mgmtAPI{t, s, s.token(t)}
	m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"friendly_name": "Acme Corp", "support_email": "help@acme.example"}, 200, nil)
	c := startChromium(t)
	p := c.newTab(true)
	if st := p.open(s.URL + "/"); st != http.StatusOK {
		t.Fatalf("home page: %d\n%s", st, p.shown())
	}
	p.wantShown("Acme Corp", "Dashboard", "OpenID Connect discovery", "help@acme.example")
	p.wantTitle("Acme Corp")
	if st := p.clickLink("OpenID Connect discovery"); st != http.StatusOK {
		t.Fatalf("discovery: %d", st)
	}
	p.wantShown(`"issuer"`, `"authorization_endpoint"`)

	p = c.newTab(true)
	p.open(s.URL + "/")
	if st := p.clickLink("Dashboard"); st != http.StatusOK {
		t.Fatalf("dashboard link: %d\n%s", st, p.shown())
	}
	p.wantVisible(`#username`, `#password`) // the administrators' login
	p.wantShown("Usher Dashboard")
}

// TestBrowserNextStep checks that the pages at the end of a link (the
// password set, the link already used) lead on: to the link's result_url,
// else the application's login, else the dashboard for an
// administrator, else the home page.
func TestBrowserNextStep(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		m := mgmtAPI{t, s, tok}
		app := startCallbackApp(t)
		web := s.app(t, tok, map[string]any{"name": "Acme Notes", "callbacks": []string{app.URL}, "initiate_login_uri": app.Base + "/login"})
		ticket := func(email string, extra map[string]any) string {
			t.Helper()
			var u user
			m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": email, "verify_email": false,
				"app_metadata": map[string]any{"needsInvitation": true}}, 201, &u)
			body := map[string]any{"user_id": u.UserID}
			for k, v := range extra {
				body[k] = v
			}
			var out struct{ Ticket string }
			m.must("POST", "/api/v2/tickets/password-change", body, 201, &out)
			return out.Ticket + "type=invite"
		}
		accept := func(p *browserTab, link string) {
			t.Helper()
			if st := p.open(link); st != http.StatusOK {
				t.Fatalf("open the link: %d\n%s", st, p.shown())
			}
			p.typeInto(`#newPassword`, browserStrongPassword)
			p.typeInto(`#confirmNewPassword`, browserStrongPassword)
			if st := p.click(`button[type=submit]`); st != http.StatusOK {
				t.Fatalf("set the password: %d\n%s", st, p.shown())
			}
			p.wantShown("You are all set")
		}
		c := startChromium(t)

		// The application's link: on to its login, now and when the link is
		// opened again.
		link := ticket("ana@example.com", map[string]any{"client_id": web.ClientID})
		p := c.newTab(true)
		accept(p, link)
		if st := p.clickLink("Log in to Acme Notes"); st != http.StatusOK {
			t.Fatalf("next step: %d", st)
		}
		p.wantShown("The application's login")
		p = c.newTab(true)
		if st := p.open(link); st != http.StatusGone {
			t.Fatalf("used link: %d", st)
		}
		p.wantShown("Link already used")
		if st := p.clickLink("Log in to Acme Notes"); st != http.StatusOK {
			t.Fatalf("next step from the used link: %d", st)
		}
		p.wantShown("The application's login")

		// A link with a result_url: opened again, it leads there.
		link = ticket("ben@example.com", map[string]any{"result_url": app.Base + "/welcome"})
		p = c.newTab(true)
		if st := p.open(link); st != http.StatusOK {
			t.Fatalf("open the link: %d", st)
		}
		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword)
		p.click(`button[type=submit]`)
		p.wantShown("The application's welcome") // result_url right away, as before
		p = c.newTab(true)
		p.open(link)
		if st := p.clickLink("Continue to the application"); st != http.StatusOK {
			t.Fatalf("next step from the used link: %d", st)
		}
		p.wantShown("The application's welcome")

		// An administrator's invitation leads to the dashboard.
		p = c.newTab(true)
		accept(p, adminInvite(t, dsn, s.URL, "root@example.com"))
		if st := p.clickLink("Go to the dashboard"); st != http.StatusOK {
			t.Fatalf("dashboard: %d", st)
		}
		p.wantVisible(`#username`, `#password`)

		// Nothing known: the home page.
		p = c.newTab(true)
		accept(p, ticket("cy@example.com", nil))
		if st := p.clickLink("Go to the home page"); st != http.StatusOK {
			t.Fatalf("home: %d", st)
		}
		p.wantShown("OpenID Connect discovery")
	})
}

// press clicks sel, which changes the page without leaving it.
func (p *browserTab) press(sel string) {
	p.t.Helper()
	p.do("press "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// focused is the id of the element that has the keyboard focus.
func (p *browserTab) focused() string {
	p.t.Helper()
	return evalIn[string](p, `document.activeElement ? document.activeElement.id : ""`)
}

// attr is the attribute name of the element sel ("" when absent).
func (p *browserTab) attr(sel, name string) string {
	p.t.Helper()
	return evalIn[string](p, fmt.Sprintf(`(document.querySelector(%q) && document.querySelector(%q).getAttribute(%q)) || ""`, sel, sel, name))
}

// wantFocusOnError checks that after a refused form the field in error has
// the focus, is marked invalid and is described by the error.
func (p *browserTab) wantFocusOnError(field string) {
	p.t.Helper()
	if got := p.focused(); got != field {
		p.t.Fatalf("after the error the focus is on %q, want #%s\n%s", got, field, p.shown())
	}
	if p.attr("#"+field, "aria-invalid") != "true" || !strings.Contains(p.attr("#"+field, "aria-describedby"), "error") {
		p.t.Fatalf("#%s is not marked invalid and described by the error: aria-invalid=%q aria-describedby=%q",
			field, p.attr("#"+field, "aria-invalid"), p.attr("#"+field, "aria-describedby"))
	}
	p.wantVisible("#error")
}

// wantRevealToggle checks the show-password button of the field: a real
// button, named, pressed state told, the field shown and hidden again.
func (p *browserTab) wantRevealToggle(field string) {
	p.t.Helper()
	button := fmt.Sprintf(`button.reveal[aria-controls=%q]`, field)
	p.wantVisible(button)
	if p.attr(button, "aria-label") != "Show password" || p.attr(button, "type") != "button" || p.attr(button, "aria-pressed") != "false" {
		p.t.Fatalf("the show-password button of #%s: label %q type %q pressed %q", field, p.attr(button, "aria-label"), p.attr(button, "type"), p.attr(button, "aria-pressed"))
	}
	p.press(button)
	if p.attr("#"+field, "type") != "text" || p.attr(button, "aria-pressed") != "true" {
		p.t.Fatalf("after pressing Show password #%s is type %q, pressed %q", field, p.attr("#"+field, "type"), p.attr(button, "aria-pressed"))
	}
	p.press(button)
	if p.attr("#"+field, "type") != "password" || p.attr(button, "aria-pressed") != "false" {
		p.t.Fatalf("after pressing it again #%s is type %q, pressed %q", field, p.attr("#"+field, "type"), p.attr(button, "aria-pressed"))
	}
}

// metRules lists the policy rules shown as met, in page order.
func (p *browserTab) metRules() string {
	p.t.Helper()
	return evalIn[string](p, `Array.from(document.querySelectorAll('#policy [data-rule].met')).map(e => e.dataset.rule).join(",")`)
}

// count is how many times text is on screen.
func (p *browserTab) count(text string) int { return strings.Count(p.shown(), text) }

func TestBrowserPagePolish(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		m := mgmtAPI{t, s, tok}
		setStrictPolicy(m)
		app := startCallbackApp(t)
		web := s.app(t, tok, map[string]any{"name": "Acme Notes", "callbacks": []string{app.URL}})
		m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"friendly_name": "Acme Corp"}, 200, nil)

		// Auth0's branding settings: checked, kept, cleared field by field.
		s.wantErr(t, "PATCH", "/api/v2/branding", tok, map[string]any{"colors": map[string]any{"primary": "purple; } *{display:none"}}, 400, "invalid_body")
		s.wantErr(t, "PATCH", "/api/v2/branding", tok, map[string]any{"logo_url": "javascript:alert(1)"}, 400, "invalid_body")
		m.must("PATCH", "/api/v2/branding", map[string]any{"favicon_url": app.Base + "/logo.svg"}, 200, nil)
		var b map[string]any
		m.must("PATCH", "/api/v2/branding", map[string]any{"logo_url": app.Base + "/logo.svg", "colors": map[string]any{"primary": "#8a2be2"}, "favicon_url": nil}, 200, &b)
		m.must("GET", "/api/v2/branding", nil, 200, &b)
		if b["logo_url"] != app.Base+"/logo.svg" || b["colors"].(map[string]any)["primary"] != "#8a2be2" || b["favicon_url"] != nil {
			t.Fatalf("branding after PATCH: %v", b)
		}
		const purple = "rgb(138, 43, 226)"

		c := startChromium(t)
		p := c.newTab(true)
		if st := p.open(authorizeURL(s, web.ClientID, app.URL, "st4te")); st != http.StatusOK {
			t.Fatalf("login page: %d\n%s", st, p.shown())
		}
		p.wantShown("Log in to Acme Corp", "to continue to Acme Notes")
		p.wantVisible(`img.logo`)
		if !evalIn[bool](p, `document.querySelector('img.logo').complete && document.querySelector('img.logo').naturalWidth > 0`) {
			t.Fatal("the tenant's logo did not load (the page's policy must allow its origin)")
		}
		if p.attr(`img.logo`, "alt") != "Acme Corp" {
			t.Fatalf("the logo's alt text is %q", p.attr(`img.logo`, "alt"))
		}
		style := func(sel, prop string) string {
			return evalIn[string](p, fmt.Sprintf(`getComputedStyle(document.querySelector(%q))[%q]`, sel, prop))
		}
		if got := style(`button[type=submit]`, "backgroundColor"); got != purple {
			t.Fatalf("the button is %s, want the branding's primary colour %s", got, purple)
		}
		if got := style(`a[href*="reset-password"]`, "color"); got != purple {
			t.Fatalf("the Forgot password? link is %s, want the accent %s", got, purple)
		}
		p.wantRevealToggle("password")

		// A refused login puts the focus back on the password.
		p.typeInto(`#username`, "ana@example.com")
		p.typeInto(`#password`, "wrong")
		if st := p.click(`button[type=submit]`); st != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", st)
		}
		p.wantFocusOnError("password")

		// Sign-up: the policy once, ticking as the person types.
		if st := p.clickLink("Sign up"); st != http.StatusOK {
			t.Fatalf("sign-up page: %d", st)
		}
		p.wantShown("to continue to Acme Notes", browserPolicyText)
		if n := p.count("At least 10 characters"); n != 1 {
			t.Fatalf("the policy is shown %d times", n)
		}
		if got := p.metRules(); got != "" {
			t.Fatalf("rules met before typing: %s", got)
		}
		p.typeInto(`#password`, "abc")
		if got := p.metRules(); got != "lower" {
			t.Fatalf("after typing abc the met rules are %q, want lower", got)
		}
		p.typeInto(`#password`, "D1!xyzwv")
		if got := p.metRules(); got != "length,three,lower,upper,digit,special" {
			t.Fatalf("after typing abcD1!xyzwv the met rules are %q", got)
		}
		p.wantRevealToggle("password")
		evalIn[bool](p, `(document.querySelector('#password').value = '') === ''`)
		p.typeInto(`#email`, "newcomer@example.com")
		p.typeInto(`#password`, "weakweak")
		if st := p.click(`button[type=submit]`); st != http.StatusBadRequest {
			t.Fatalf("weak sign-up password: %d\n%s", st, p.shown())
		}
		p.wantShown("That password is too weak.")
		p.wantFocusOnError("password")
		if n := p.count("At least 10 characters"); n != 1 {
			t.Fatalf("after the error the policy is shown %d times", n)
		}

		// The reset page names the application, shows the policy once after
		// a weak password, and focuses the field in error.
		var u user
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "ana@example.com", "password": "Old-Passw0rd!x", "verify_email": false}, 201, &u)
		var out struct{ Ticket string }
		m.must("POST", "/api/v2/tickets/password-change", map[string]any{"user_id": u.UserID, "client_id": web.ClientID}, 201, &out)
		p = c.newTab(true)
		if st := p.open(out.Ticket + "type=reset"); st != http.StatusOK {
			t.Fatalf("reset link: %d", st)
		}
		p.wantShown("Acme Notes", "Choose a new password", browserPolicyText)
		p.wantVisible(`img.logo`)
		p.wantRevealToggle("newPassword")
		p.wantRevealToggle("confirmNewPassword")
		p.typeInto(`#newPassword`, "weak")
		p.typeInto(`#confirmNewPassword`, "weak")
		if st := p.click(`button[type=submit]`); st != http.StatusBadRequest {
			t.Fatalf("weak password: %d", st)
		}
		p.wantShown("Password is too weak.")
		if n := p.count("At least 10 characters"); n != 1 {
			t.Fatalf("after a weak password the policy is shown %d times:\n%s", n, p.shown())
		}
		p.wantFocusOnError("newPassword")
		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword+"?")
		if st := p.click(`button[type=submit]`); st != http.StatusBadRequest {
			t.Fatalf("mismatched passwords: %d", st)
		}
		p.wantFocusOnError("confirmNewPassword")

		// A link a script sent with a machine-to-machine client names no
		// application: the person will never use that client.
		m.must("POST", "/api/v2/tickets/password-change", map[string]any{"user_id": u.UserID, "client_id": s.ClientID}, 201, &out)
		p = c.newTab(true)
		p.open(out.Ticket)
		p.wantShown("Choose a new password", "!Usher Management API")
		p.wantHidden(`p.app`)
	})
}

// TestBrowserPagesLayout walks every hosted page at a desktop's and a
// phone's width, saves a screenshot of each (USHER_SCREENSHOT_DIR, else
// the test's temporary folder) and fails on a page that scrolls sideways,
// sticks out of the window or clips its text. Long names and addresses
// make the text hard to fit. The layout does not depend on the database:
// SQLite only.
func TestBrowserPagesLayout(t *testing.T) {
	chromiumPath(t)
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	m := mgmtAPI{t, s, tok}
	setStrictPolicy(m)
	app := startCallbackApp(t)
	web := s.app(t, tok, map[string]any{"name": "Acme Notes for Distributed Editorial Teams", "callbacks": []string{app.URL},
		"initiate_login_uri": app.Base + "/login"})
	m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"friendly_name": "Acme Corporation International Holdings",
		"support_email": "identity-and-access-support@acme-corporation.example", "support_url": app.Base + "/support"}, 200, nil)
	m.must("PATCH", "/api/v2/branding", map[string]any{"logo_url": app.Base + "/logo.svg", "colors": map[string]any{"primary": "#8a2be2"}}, 200, nil)
	authorize := authorizeURL(s, web.ClientID, app.URL, "st4te")
	newUser := func(email string, extra map[string]any) string {
		t.Helper()
		body := map[string]any{"connection": dbConn, "email": email, "verify_email": false}
		for k, v := range extra {
			body[k] = v
		}
		var u user
		m.must("POST", "/api/v2/users", body, 201, &u)
		return u.UserID
	}
	ticket := func(kind, userID string) string {
		t.Helper()
		var out struct{ Ticket string }
		m.must("POST", "/api/v2/tickets/"+kind, map[string]any{"user_id": userID, "client_id": web.ClientID}, 201, &out)
		return out.Ticket
	}

	c := startChromium(t)
	for _, width := range []int{1280, 390} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			long := fmt.Sprintf("maximilian.alexander.longname-%d@very-long-subdomain.example-company.com", width)
			invitee := newUser("invited-"+long, map[string]any{"app_metadata": map[string]any{"needsInvitation": true}})
			resetter := newUser("reset-"+long, map[string]any{"password": "Old-Passw0rd!x"})
			verifier := newUser("verify-"+long, map[string]any{"password": "Old-Passw0rd!x"})
			inviteLink := ticket("password-change", invitee) + "type=invite"
			resetLink := ticket("password-change", resetter) + "type=reset"
			verifyLink := ticket("email-verification", verifier)

			tab := func() *browserTab {
				p := c.newTab(true)
				if width == 390 {
					p.phone()
				} else {
					p.do("a desktop window", chromedp.EmulateViewport(int64(width), 900))
				}
				return p
			}
			seen := 0
			check := func(p *browserTab, page string) {
				t.Helper()
				seen++
				p.screenshot(fmt.Sprintf("%02d-%s-%d", seen, page, width))
				p.wantLooksRight(page, width)
			}
			submit := func(p *browserTab, want int) {
				t.Helper()
				if st := p.click(`button[type=submit]`); st != want {
					t.Fatalf("submit: %d, want %d\n%s", st, want, p.shown())
				}
			}

			p := tab()
			p.open(s.URL + "/")
			check(p, "home")
			p.open(authorize)
			check(p, "login")
			p.typeInto(`#username`, "reset-"+long)
			p.typeInto(`#password`, "wrong")
			submit(p, http.StatusUnauthorized)
			check(p, "login-error")
			p.clickLink("Forgot password?")
			check(p, "forgot-password")
			p.typeInto(`#email`, "nobody-"+long)
			submit(p, http.StatusOK)
			check(p, "forgot-password-sent")
			p.clickLink("Back to log in")
			p.clickLink("Sign up")
			check(p, "signup")
			p.typeInto(`#email`, "new-"+long)
			p.typeInto(`#password`, "weakweak")
			submit(p, http.StatusBadRequest)
			check(p, "signup-error")

			p = tab()
			p.open(inviteLink)
			check(p, "invite")
			p.typeInto(`#newPassword`, "weak")
			p.typeInto(`#confirmNewPassword`, "weak")
			submit(p, http.StatusBadRequest)
			check(p, "invite-error")
			p.typeInto(`#newPassword`, browserStrongPassword)
			p.typeInto(`#confirmNewPassword`, browserStrongPassword)
			submit(p, http.StatusOK)
			check(p, "invite-done")
			p = tab()
			p.open(inviteLink)
			check(p, "link-used")

			p = tab()
			p.open(resetLink)
			check(p, "reset")
			p.typeInto(`#newPassword`, browserStrongPassword)
			p.typeInto(`#confirmNewPassword`, browserStrongPassword)
			submit(p, http.StatusOK)
			check(p, "reset-done")

			p = tab()
			p.open(s.URL + "/lo/reset?ticket=not-a-ticket")
			check(p, "link-invalid")
			p.typeInto(`#email`, "reset-"+long)
			submit(p, http.StatusOK)
			check(p, "link-requested")

			p = tab()
			p.open(verifyLink)
			check(p, "verify-email")
			submit(p, http.StatusOK)
			check(p, "email-verified")

			p = tab()
			p.open(s.URL + "/v2/logout")
			check(p, "logged-out")
			p.open(strings.Replace(authorize, url.QueryEscape(app.URL), url.QueryEscape("https://elsewhere.example/cb"), 1))
			check(p, "authorize-error")
		})
	}
}
