package main

// Real-browser tests: Debian's Chromium, driven through chromedp, opens the
// links Usher mails and clicks through the hosted pages as a person does.
// Plain HTTP tests cannot see what these see: the page's script reads
// "type=invite" or "type=reset" from the URL fragment, which never reaches
// the server, and decides what is on screen.
//
// The browser is USHER_CHROMIUM, else /usr/bin/chromium; without either the
// tests skip (.ci/run installs Chromium and sets USHER_CHROMIUM, so there a
// missing browser fails). Screenshots of the main pages go to
// USHER_SCREENSHOT_DIR when it is set, else to the test's temporary folder.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/usherid/usher/internal/mail/mailtest"
)

const (
	// browserLimit bounds everything one browser does in a test: when it
	// passes, the browser is killed and every pending step fails.
	browserLimit = 3 * time.Minute
	// stepLimit bounds one step (a navigation, a click, a query).
	stepLimit = 30 * time.Second
)

// chromiumPath returns the browser to drive, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("USHER_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("USHER_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	const p = "/usr/bin/chromium"
	if _, err := exec.LookPath(p); err != nil {
		t.Skip("no Chromium at /usr/bin/chromium and USHER_CHROMIUM is not set: skipping the browser tests " +
			"(install Debian's chromium with `apt-get install chromium`; .ci/run does)")
	}
	return p
}

// chrome is one headless Chromium with its own profile, stopped (and its
// processes checked gone) when the test ends.
type chrome struct {
	t     *testing.T
	ctx   context.Context // the browser's first tab
	out   *syncBuffer     // what the browser printed
	shots string          // where screenshots go
}

func startChromium(t *testing.T) *chrome {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	out := &syncBuffer{}
	limit, cancelLimit := context.WithTimeout(context.Background(), browserLimit)
	alloc, cancelAlloc := chromedp.NewExecAllocator(limit,
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// No network but the test server's: this machine has no internet,
		// and a test must not depend on it anyway.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	c := &chrome{t: t, ctx: browser, out: out, shots: os.Getenv("USHER_SCREENSHOT_DIR")}
	if c.shots == "" {
		c.shots = t.TempDir()
	}
	t.Cleanup(func() {
		closing, cancel := context.WithTimeout(browser, 10*time.Second)
		chromedp.Cancel(closing) // closes the browser gracefully
		cancel()
		cancelBrowser()
		cancelAlloc() // waits until the browser process has exited
		cancelLimit()
		// Chromium's helpers (zygote, renderers, network service) carry the
		// profile folder on their command line; none may outlive the test.
		deadline := time.Now().Add(5 * time.Second)
		for killed := 0; ; {
			left := chromiumProcesses(profile)
			if len(left) == 0 {
				if killed > 0 {
					t.Logf("killed %d Chromium helper processes that outlived the browser", killed)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("Chromium processes still running after the test: %v", left)
				return
			}
			for _, pid := range left {
				if p, err := os.FindProcess(pid); err == nil && p.Kill() == nil {
					killed++
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v\n%s", path, err, out.String())
	}
	// The check at the end is worth something only if it sees the browser.
	if _, err := os.Stat("/proc/self/cmdline"); err == nil && len(chromiumProcesses(profile)) == 0 {
		t.Fatalf("the running browser's processes are not found by their --user-data-dir=%s", profile)
	}
	return c
}

// chromiumProcesses lists the processes started with this profile folder.
func chromiumProcesses(profile string) []int {
	want := []byte("--user-data-dir=" + profile + "\x00")
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmdline, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// browserTab is one browser tab; fresh tabs have their own cookies and storage.
type browserTab struct {
	t     *testing.T
	ctx   context.Context
	shots string

	mu         sync.Mutex
	exceptions []string // uncaught script errors of the pages shown
}

func (c *chrome) newTab(fresh bool) *browserTab {
	c.t.Helper()
	var opts []chromedp.ContextOption
	if fresh {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(c.ctx, opts...)
	c.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		c.t.Fatalf("open a tab: %v\n%s", err, c.out.String())
	}
	p := &browserTab{t: c.t, ctx: ctx, shots: c.shots}
	events := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			p.mu.Lock()
			p.exceptions = append(p.exceptions, msg)
			p.mu.Unlock()
		}
	}()
	return p
}

// phone makes the tab a 390×844 phone screen (an iPhone 12–15's CSS pixels).
func (p *browserTab) phone() {
	p.t.Helper()
	p.do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch))
}

func (p *browserTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepLimit)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\npage:\n%s", what, err, p.shown())
	}
}

func evalIn[T any](p *browserTab, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// open loads link and returns the HTTP status of the page.
func (p *browserTab) open(link string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepLimit)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(link))
	if err != nil {
		p.t.Fatalf("open %s: %v", link, err)
	}
	p.noScriptErrors()
	return int(resp.Status)
}

// typeInto types text into the field sel.
func (p *browserTab) typeInto(sel, text string) {
	p.t.Helper()
	p.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// click clicks sel, waits for the page it leads to and returns its status.
func (p *browserTab) click(sel string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepLimit)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("click %s: %v\npage:\n%s", sel, err, p.shown())
	}
	p.noScriptErrors()
	return int(resp.Status)
}

func (p *browserTab) noScriptErrors() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exceptions) > 0 {
		p.t.Fatalf("the page's script failed: %v", p.exceptions)
	}
}

// shown is the text a person sees: innerText leaves out hidden elements.
func (p *browserTab) shown() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	return text
}

// wantShown checks that each text is on screen, and each "!text" is not.
func (p *browserTab) wantShown(texts ...string) {
	p.t.Helper()
	shown := p.shown()
	for _, want := range texts {
		if absent, ok := strings.CutPrefix(want, "!"); ok {
			if strings.Contains(shown, absent) {
				p.t.Fatalf("the page shows %q, and should not:\n%s", absent, shown)
			}
		} else if !strings.Contains(shown, want) {
			p.t.Fatalf("the page does not show %q:\n%s", want, shown)
		}
	}
}

func (p *browserTab) wantTitle(want string) {
	p.t.Helper()
	if got := evalIn[string](p, `document.title`); got != want {
		p.t.Fatalf("the tab's title is %q, want %q", got, want)
	}
}

// visible tells whether a person sees the element sel; false when it is
// hidden or not on the page.
func (p *browserTab) visible(sel string) bool {
	p.t.Helper()
	return evalIn[bool](p, fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el || !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) return false;
		const r = el.getBoundingClientRect();
		return r.width > 0 && r.height > 0;
	})()`, sel))
}

func (p *browserTab) wantVisible(sels ...string) {
	p.t.Helper()
	for _, sel := range sels {
		if !p.visible(sel) {
			p.t.Fatalf("%s is not visible:\n%s", sel, p.shown())
		}
	}
}

func (p *browserTab) wantHidden(sels ...string) {
	p.t.Helper()
	for _, sel := range sels {
		if p.visible(sel) {
			p.t.Fatalf("%s is visible, and should not be:\n%s", sel, p.shown())
		}
	}
}

// wantStyled checks that Usher's stylesheet applies: its accent colour on
// the button (an unstyled page looks broken to a person).
func (p *browserTab) wantStyled(button string) {
	p.t.Helper()
	if bg := evalIn[string](p, fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).backgroundColor`, button)); bg != "rgb(36, 85, 195)" {
		p.t.Fatalf("%s has background %q: usher.css did not apply", button, bg)
	}
}

// wantFitsPhone checks that the page is laid out for the phone's width: the
// viewport is the device's (not a zoomed-out desktop page) and nothing makes
// the person scroll sideways.
func (p *browserTab) wantFitsPhone() {
	p.t.Helper()
	var m struct{ Inner, Scroll, Widest float64 }
	raw := evalIn[[]byte](p, `(() => {
		let widest = 0;
		for (const el of document.querySelectorAll('main, main *')) widest = Math.max(widest, el.getBoundingClientRect().right);
		return {inner: window.innerWidth, scroll: document.documentElement.scrollWidth, widest};
	})()`)
	if err := json.Unmarshal(raw, &m); err != nil {
		p.t.Fatal(err)
	}
	if m.Inner != 390 || m.Scroll > m.Inner || m.Widest > m.Inner {
		p.t.Fatalf("the page does not fit a 390px phone: viewport %v, scroll width %v, widest element ends at %v", m.Inner, m.Scroll, m.Widest)
	}
}

// screenshot saves the whole page as NAME.png in the screenshot folder.
func (p *browserTab) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepLimit)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(p.shots, 0o755); err != nil {
		p.t.Fatal(err)
	}
	file := filepath.Join(p.shots, strings.NewReplacer("/", "-", " ", "_").Replace(p.t.Name())+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", file)
}

// mgmtAPI is the Management API as the browser tests use it.
type mgmtAPI struct {
	t   *testing.T
	s   *testServer
	tok string
}

func (m mgmtAPI) must(method, path string, body any, status int, out any) {
	m.t.Helper()
	if got := m.s.call(m.t, method, path, m.tok, body, out); got != status {
		m.t.Fatalf("%s %s: %d, want %d", method, path, got, status)
	}
}

// requestResetMail asks for a reset mail the way an application does.
func requestResetMail(t *testing.T, s *testServer, email string) {
	t.Helper()
	resp, err := s.HTTP.Post(s.URL+"/dbconnections/change_password", "application/json",
		strings.NewReader(`{"client_id":"`+s.ClientID+`","email":"`+email+`","connection":"`+dbConn+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("change_password: %d %s", resp.StatusCode, body)
	}
}

// linkMailedTo waits for the mail to email and returns its link.
func linkMailedTo(t *testing.T, sink *mailtest.Sink, email string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n := 1; ; n++ {
		for _, m := range sink.Wait(t, n, time.Until(deadline)) {
			if len(m.To) == 1 && m.To[0] == email {
				return linkOf(t, m)
			}
		}
	}
}

const (
	browserStrongPassword = "Str0ng-Passw0rd!"
	// browserPolicyText is what the page says of the connection's policy as
	// setStrictPolicy leaves it.
	browserPolicyText = "At least 10 characters, with three of: lower case, upper case, digits, special characters."
)

// setStrictPolicy gives the database connection a policy of its own, so that
// the page must show the connection's policy, not a default.
func setStrictPolicy(m mgmtAPI) {
	m.t.Helper()
	var conns []struct{ ID string }
	m.must("GET", "/api/v2/connections?name="+dbConn, nil, 200, &conns)
	if len(conns) != 1 {
		m.t.Fatalf("connections named %s: %+v", dbConn, conns)
	}
	m.must("PATCH", "/api/v2/connections/"+conns[0].ID, map[string]any{"options": map[string]any{
		"passwordPolicy": "good", "password_complexity_options": map[string]any{"min_length": 10},
	}}, 200, nil)
}

// inviteTheAuth0Way follows Auth0's recipe: the recipe's reset_email
// template, a user flagged needsInvitation, change_password; it returns the
// user and the invitation link read from the mail.
func inviteTheAuth0Way(m mgmtAPI, sink *mailtest.Sink, email string) (user, string) {
	m.t.Helper()
	m.must("PATCH", "/api/v2/email-templates/reset_email", map[string]any{"body": auth0Recipe, "syntax": "liquid", "enabled": true}, 200, nil)
	var u user
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": email, "email_verified": false,
		"verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, 201, &u)
	requestResetMail(m.t, m.s, email)
	link := linkMailedTo(m.t, sink, email)
	if !strings.HasSuffix(link, "#type=invite") {
		m.t.Fatalf("invitation link %q does not end in #type=invite", link)
	}
	return u, link
}

func TestBrowserInvitation(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}
		setStrictPolicy(m)
		u, link := inviteTheAuth0Way(m, sink, "grace@example.com")

		c := startChromium(t)
		p := c.newTab(false)
		if st := p.open(link); st != http.StatusOK {
			t.Fatalf("invitation link: %d\n%s", st, p.shown())
		}
		p.wantVisible(`section[data-experience=invite]`, `#newPassword`, `#confirmNewPassword`, `#policy`, `button[type=submit]`)
		p.wantHidden(`section[data-experience=reset]`)
		p.wantShown("Welcome", "You have been invited as grace@example.com", browserPolicyText, "Accept the invitation",
			"!Choose a new password", "!Set the password")
		p.wantStyled(`button[type=submit]`)
		p.screenshot("invite")

		// The same page on a phone.
		phone := c.newTab(true)
		phone.phone()
		if st := phone.open(link); st != http.StatusOK {
			t.Fatalf("invitation link on a phone: %d", st)
		}
		phone.wantVisible(`section[data-experience=invite]`, `#newPassword`, `button[type=submit]`)
		phone.wantFitsPhone()
		phone.screenshot("invite-phone")

		// A weak password is refused, the page says why and stays an invitation.
		p.typeInto(`#newPassword`, "weak")
		p.typeInto(`#confirmNewPassword`, "weak")
		if st := p.click(`button[type=submit]`); st != http.StatusBadRequest {
			t.Fatalf("weak password: %d\n%s", st, p.shown())
		}
		p.wantVisible(`.error`, `section[data-experience=invite]`, `#newPassword`)
		p.wantHidden(`section[data-experience=reset]`)
		p.wantShown("Password is too weak", browserPolicyText, "Accept the invitation")
		p.screenshot("invite-weak")

		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			t.Fatalf("strong password: %d\n%s", st, p.shown())
		}
		p.wantVisible(`.ok`)
		p.wantShown("You are all set", "Your account is ready. You can now log in as grace@example.com.", "!New password")
		p.screenshot("success")

		var after user
		m.must("GET", "/api/v2/users/"+url.PathEscape(u.UserID), nil, 200, &after)
		if !after.EmailVerified {
			t.Fatal("after accepting the invitation the user's email is not verified")
		}

		// The link is spent: another browser (no cookies, no history) says so.
		// A phone this time.
		again := c.newTab(true)
		again.phone()
		if st := again.open(link); st != http.StatusGone {
			t.Fatalf("used link: %d\n%s", st, again.shown())
		}
		again.wantShown("Link already used", "This link was already used.", "Send me a new link", "!Accept the invitation")
		again.wantHidden(`#newPassword`)
		again.wantVisible(`#email`, `button[type=submit]`)
		again.wantFitsPhone()
		again.screenshot("used-phone")
	})
}

func TestBrowserFragmentChoosesTheExperience(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}
		m.must("PATCH", "/api/v2/email-templates/reset_email", map[string]any{"body": auth0Recipe, "syntax": "liquid", "enabled": true}, 200, nil)
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "lin@example.com", "password": "Old-Passw0rd!", "verify_email": false}, 201, nil)
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "ken@example.com", "verify_email": false,
			"app_metadata": map[string]any{"needsInvitation": true}}, 201, nil)
		requestResetMail(t, s, "lin@example.com")
		reset := linkMailedTo(t, sink, "lin@example.com")
		if !strings.HasSuffix(reset, "#type=reset") {
			t.Fatalf("reset link %q does not end in #type=reset", reset)
		}
		requestResetMail(t, s, "ken@example.com")
		invite := linkMailedTo(t, sink, "ken@example.com")
		bare := func(link string) string { return link[:strings.Index(link, "#")] }

		isReset := func(p *browserTab) {
			t.Helper()
			p.wantVisible(`section[data-experience=reset]`, `#newPassword`)
			p.wantHidden(`section[data-experience=invite]`)
			p.wantShown("Choose a new password", "Set the password", "!You have been invited", "!Accept the invitation")
		}
		isInvite := func(p *browserTab) {
			t.Helper()
			p.wantVisible(`section[data-experience=invite]`, `#newPassword`)
			p.wantHidden(`section[data-experience=reset]`)
			p.wantShown("You have been invited", "Accept the invitation", "!Choose a new password", "!Set the password")
		}
		c := startChromium(t)
		// Each link in a tab of its own: a link that differs only in its
		// fragment would not load the page again in the same tab.
		open := func(link string) *browserTab {
			t.Helper()
			p := c.newTab(false)
			if st := p.open(link); st != http.StatusOK {
				t.Fatalf("%s: %d\n%s", link, st, p.shown())
			}
			return p
		}

		p := open(reset)
		isReset(p)
		p.wantShown("Set a new password for lin@example.com")
		p.wantStyled(`button[type=submit]`)
		p.screenshot("reset")

		// The fragment wins in the page, and in the tab's title, whatever
		// the server knows.
		inviteAt := func(link string) {
			t.Helper()
			p := open(link)
			isInvite(p)
			p.wantTitle("Accept your invitation")
		}
		resetAt := func(link string) {
			t.Helper()
			p := open(link)
			isReset(p)
			p.wantTitle("Reset your password")
		}
		resetAt(reset)
		inviteAt(strings.TrimSuffix(reset, "type=reset") + "type=invite")
		resetAt(strings.TrimSuffix(invite, "type=invite") + "type=reset")
		inviteAt(invite)
		// Without one, the server's knowledge decides: lin has a password,
		// ken is invited.
		resetAt(bare(reset))
		resetAt(bare(reset) + "#")
		inviteAt(bare(invite))
		inviteAt(bare(invite) + "#")

		// What the person saw goes on after the form: lin, shown the
		// invitation, is welcomed, not told a password changed.
		p = open(strings.TrimSuffix(reset, "type=reset") + "type=invite")
		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword+"?")
		if st := p.click(`button[type=submit]`); st != http.StatusBadRequest {
			t.Fatalf("mismatched passwords: %d\n%s", st, p.shown())
		}
		p.wantShown("The two passwords do not match.")
		isInvite(p)
		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			t.Fatalf("set password: %d\n%s", st, p.shown())
		}
		p.wantShown("You are all set", "!Password changed")

		p = open(strings.TrimSuffix(invite, "type=invite") + "type=reset")
		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			t.Fatalf("set password: %d\n%s", st, p.shown())
		}
		p.wantShown("Password changed", "Your password was changed.", "!You are all set")
	})
}

// browserULTemplate is the page template of the task: the tenant's header
// around Usher's form.
const browserULTemplate = `<!doctype html><html><head>{%- auth0:head -%}</head><body><header id=brand>ACME</header>{%- auth0:widget -%}</body></html>`

// browserClassicPage is a tenant's own password page in Auth0's classic style: a
// plain form that posts to /lo/reset.
const browserClassicPage = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>ACME password</title>
<style>body{font-family:sans-serif;margin:2rem;background:#fff8e6} input,button{display:block;margin:.5rem 0 1rem;font-size:1rem}</style></head>
<body>
<h1 id="classic">ACME accounts</h1>
<p id="who">Choose a password for {{email}}</p>
<form method="post" action="/lo/reset">
<input type="hidden" name="_csrf" value="{{csrf_token}}">
<input type="hidden" name="ticket" value="{{ticket}}">
<input type="hidden" name="email" value="{{email}}">
<label>Password <input id="pw" type="password" name="newPassword"></label>
<label>Again <input id="pw2" type="password" name="confirmNewPassword"></label>
<button id="save" type="submit">Save my password</button>
</form>
</body></html>`

func TestBrowserCustomPages(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		m := mgmtAPI{t, s, s.token(t)}
		ticketFor := func(email string) (userID, link string) {
			t.Helper()
			var u user
			m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": email, "verify_email": false,
				"app_metadata": map[string]any{"needsInvitation": true}}, 201, &u)
			var out struct{ Ticket string }
			m.must("POST", "/api/v2/tickets/password-change", map[string]any{"user_id": u.UserID}, 201, &out)
			return u.UserID, out.Ticket + "type=invite"
		}
		c := startChromium(t)

		// New Universal Login: the tenant's template around Usher's form.
		m.must("PUT", "/api/v2/branding/templates/universal-login", map[string]any{"template": browserULTemplate}, 201, nil)
		_, link := ticketFor("ada@example.com")
		p := c.newTab(false)
		if st := p.open(link); st != http.StatusOK {
			t.Fatalf("link with a page template: %d\n%s", st, p.shown())
		}
		p.wantVisible(`header#brand`, `section[data-experience=invite]`, `#newPassword`, `button[type=submit]`)
		p.wantHidden(`section[data-experience=reset]`)
		p.wantShown("ACME", "You have been invited as ada@example.com", "Accept the invitation")
		p.wantStyled(`button[type=submit]`)
		if !evalIn[bool](p, `document.querySelector('header#brand').getBoundingClientRect().bottom <= document.querySelector('form').getBoundingClientRect().top`) {
			t.Fatal("the tenant's header is not above Usher's form")
		}
		p.screenshot("custom-universal-login")
		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			t.Fatalf("set password with a page template: %d\n%s", st, p.shown())
		}
		p.wantVisible(`header#brand`, `.ok`)
		p.wantShown("ACME", "You are all set", "Your account is ready.")

		// The classic page replaces the page whole.
		m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"change_password": map[string]any{"enabled": true, "html": browserClassicPage}}, 200, nil)
		bobID, link := ticketFor("bob@example.com")
		p = c.newTab(true)
		if st := p.open(link); st != http.StatusOK {
			t.Fatalf("link with a classic page: %d\n%s", st, p.shown())
		}
		p.wantVisible(`#classic`, `#pw`, `#pw2`, `#save`)
		p.wantHidden(`header#brand`, `section[data-experience]`, `#newPassword`)
		p.wantShown("ACME accounts", "Choose a password for bob@example.com", "!You have been invited")
		p.wantTitle("ACME password")
		p.screenshot("custom-classic")
		p.typeInto(`#pw`, browserStrongPassword)
		p.typeInto(`#pw2`, browserStrongPassword)
		if st := p.click(`#save`); st != http.StatusOK {
			t.Fatalf("classic page's form: %d\n%s", st, p.shown())
		}
		p.wantShown("You are all set", "Your account is ready. You can now log in as bob@example.com.")
		var bob struct {
			EmailVerified     bool   `json:"email_verified"`
			LastPasswordReset string `json:"last_password_reset"`
		}
		m.must("GET", "/api/v2/users/"+url.PathEscape(bobID), nil, 200, &bob)
		if !bob.EmailVerified || bob.LastPasswordReset == "" {
			t.Fatalf("after the classic page's form: %+v, want a password set and the email verified", bob)
		}
	})
}
