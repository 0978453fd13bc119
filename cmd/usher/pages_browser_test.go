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

// mailsTo is how many mails of the outbox go to email.
func mailsTo(t *testing.T, s *testServer, tok, email string) int {
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
		waitFor(t, 10*time.Second, "the reset mail to ana", func() bool { return mailsTo(t, s, tok, "ana@example.com") == 1 })

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
		if n := mailsTo(t, s, tok, "nobody@example.com"); n != 0 {
			t.Fatalf("%d mails to an email without an account", n)
		}
		if n := mailsTo(t, s, tok, "ana@example.com"); n != 1 {
			t.Fatalf("%d mails to ana, want 1", n)
		}
	})
}

// TestPagesForgotPasswordGuards checks the reset-password request form's
// guards over plain HTTP: a form without its CSRF token sends nothing, and
// a connection that closes self-service reset shows no link and no form.
func TestPagesForgotPasswordGuards(t *testing.T) {
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
	if n := mailsTo(t, s, tok, "ana@example.com"); n != 0 {
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
