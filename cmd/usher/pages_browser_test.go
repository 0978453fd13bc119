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
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// callbackApp is an application's callback endpoint on this machine: the
// browser lands there after a login, and the test reads what it got.
type callbackApp struct {
	URL string // the callback URL to register

	mu   sync.Mutex
	last url.Values
}

func startCallbackApp(t *testing.T) *callbackApp {
	t.Helper()
	a := &callbackApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" { // the browser asks for /favicon.ico too
			http.NotFound(w, r)
			return
		}
		a.mu.Lock()
		a.last = r.URL.Query()
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Acme callback</title><h1>Back at the application</h1>")
	}))
	t.Cleanup(srv.Close)
	a.URL = srv.URL + "/callback"
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

var _ = strings.Contains
