package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// auth0Recipe is the reset_email body of Auth0's invitation recipe, verbatim.
const auth0Recipe = `{% if user.app_metadata.needsInvitation %}Welcome… <a href="{{ url }}type=invite">Accept your invitation</a>{% else %}Reset… <a href="{{ url }}type=reset">Reset your password</a>{% endif %}`

var linkInMail = regexp.MustCompile(`href="([^"]+)"`)

// linkOf returns the first link of a mail's HTML, unescaped.
func linkOf(t *testing.T, m mailtest.Message) string {
	t.Helper()
	match := linkInMail.FindStringSubmatch(m.HTML)
	if match == nil {
		t.Fatalf("no link in mail %q", m.HTML)
	}
	return strings.ReplaceAll(match[1], "&amp;", "&")
}

// browser is an HTTP client with cookies that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, link string) (int, string) {
	t.Helper()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// setPassword opens a link in c and submits the form on it.
func setPassword(t *testing.T, c *http.Client, base, link, password string) (*http.Response, string) {
	t.Helper()
	_, page := get(t, c, link)
	csrf := csrfField.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no form on the page:\n%s", page)
	}
	u, _ := url.Parse(link)
	resp, err := c.PostForm(base+"/lo/reset", url.Values{"_csrf": {csrf[1]}, "ticket": {u.Query().Get("ticket")}, "newPassword": {password}, "confirmNewPassword": {password}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestInvitationLoopTheAuth0Way(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		tok := s.token(t)
		if st := s.call(t, "PATCH", "/api/v2/email-templates/reset_email", tok, map[string]any{"body": auth0Recipe, "syntax": "liquid", "enabled": true}, nil); st != 200 {
			t.Fatalf("template: %d", st)
		}
		var u user
		s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "grace@example.com", "email_verified": false,
			"verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, &u)

		changePassword := func(email string) (int, string) {
			resp, err := s.HTTP.Post(s.URL+"/dbconnections/change_password", "application/json",
				strings.NewReader(`{"client_id":"`+s.ClientID+`","email":"`+email+`","connection":"`+dbConn+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		status, known := changePassword("grace@example.com")
		if status != 200 || known != "We've just sent you an email to reset your password." {
			t.Fatalf("change_password: %d %q", status, known)
		}
		if status, unknown := changePassword("nobody@example.com"); status != 200 || unknown != known {
			t.Fatalf("unknown email answered differently: %d %q", status, unknown)
		}
		mails := sink.Wait(t, 1, 10*time.Second)
		time.Sleep(300 * time.Millisecond)
		if got := sink.Messages(); len(got) != 1 || got[0].To[0] != "grace@example.com" {
			t.Fatalf("mails: %+v (nothing may go to the unknown address)", got)
		}
		m := mails[0]
		if !strings.Contains(m.HTML, "Welcome…") || m.MessageID == "" || !strings.Contains(m.Text, "type=invite") {
			t.Fatalf("invitation mail: %+v", m)
		}
		link := linkOf(t, m)
		if !strings.Contains(link, "/lo/reset?ticket=") || !strings.HasSuffix(link, "#type=invite") {
			t.Fatalf("link %q", link)
		}

		// Mail scanners fetch links: a GET and a HEAD change nothing.
		scanner := browser(t)
		for i := 0; i < 3; i++ {
			if st, page := get(t, scanner, link); st != 200 || !strings.Contains(page, "You have been invited") {
				t.Fatalf("GET of the link: %d\n%s", st, page)
			}
		}
		if resp, err := scanner.Head(link); err != nil || resp.StatusCode != 200 {
			t.Fatalf("HEAD: %v %v", resp, err)
		}

		person := browser(t)
		// A form without the page's CSRF cookie is refused.
		ticket := strings.TrimSuffix(strings.Split(strings.Split(link, "ticket=")[1], "#")[0], "")
		resp, err := person.PostForm(s.URL+"/lo/reset", url.Values{"_csrf": {"forged"}, "ticket": {ticket}, "newPassword": {"Str0ng-Passw0rd!"}, "confirmNewPassword": {"Str0ng-Passw0rd!"}})
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged form: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		if resp, page := setPassword(t, person, s.URL, link, "weak"); resp.StatusCode != 400 || !strings.Contains(page, "too weak") {
			t.Fatalf("weak password: %d\n%s", resp.StatusCode, page)
		}
		if resp, page := setPassword(t, person, s.URL, link, "Str0ng-Passw0rd!"); resp.StatusCode != 200 || !strings.Contains(page, "Your account is ready") {
			t.Fatalf("set password: %d\n%s", resp.StatusCode, page)
		}

		var after user
		s.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), tok, nil, &after)
		if !after.EmailVerified {
			t.Fatal("setting the password through the link did not verify the email")
		}
		if st, page := get(t, browser(t), link); st != http.StatusGone || !strings.Contains(page, "already used") {
			t.Fatalf("used link: %d\n%s", st, page)
		}
		var logs []map[string]any
		s.call(t, "GET", "/api/v2/logs?q="+url.QueryEscape("type:(scpr OR fcpr OR scp)")+"&sort=date:1", tok, nil, &logs)
		var types []string
		for _, l := range logs {
			types = append(types, l["type"].(string))
		}
		if strings.Join(types, ",") != "scpr,fcpr,scp" {
			t.Fatalf("log types %v", types)
		}
	})
}

func TestOnlyTheNewestResetLinkWorks(t *testing.T) {
	t.Parallel()
	sink := mailtest.Start(t)
	s := startServer(t, sqliteDSN(t), map[string]string{"USHER_SMTP_URL": sink.URL()})
	tok := s.token(t)
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "lin@example.com", "password": "Old-Passw0rd!", "verify_email": false}, nil)
	for i := 0; i < 2; i++ {
		resp, err := s.HTTP.Post(s.URL+"/dbconnections/change_password", "application/json", strings.NewReader(`{"email":"lin@example.com","connection":"`+dbConn+`"}`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mails := sink.Wait(t, 2, 10*time.Second)
	first, second := linkOf(t, mails[0]), linkOf(t, mails[1])
	if !strings.Contains(mails[0].HTML, "type=reset") {
		t.Fatalf("a user with a password gets the reset text: %s", mails[0].HTML)
	}
	if st, page := get(t, browser(t), first); st != http.StatusGone || !strings.Contains(page, "newer link") {
		t.Fatalf("older link: %d\n%s", st, page)
	}
	if resp, _ := setPassword(t, browser(t), s.URL, second, "New-Passw0rd!"); resp.StatusCode != 200 {
		t.Fatalf("newest link: %d", resp.StatusCode)
	}
}

func TestTicketsAPI(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		var u user
		s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "ken@example.com", "verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, &u)
		var out struct{ Ticket string }
		if st := s.call(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{
			"user_id": u.UserID, "result_url": "https://app.example.com/welcome", "ttl_sec": 3600, "mark_email_as_verified": true, "includeEmailInRedirect": true,
		}, &out); st != 201 || !strings.HasPrefix(out.Ticket, s.URL+"/lo/reset?ticket=") || !strings.HasSuffix(out.Ticket, "#") {
			t.Fatalf("ticket: %d %q", st, out.Ticket)
		}
		resp, _ := setPassword(t, browser(t), s.URL, out.Ticket, "Str0ng-Passw0rd!")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Host != "app.example.com" || loc.Query().Get("success") != "true" || loc.Query().Get("email") != "ken@example.com" || loc.Query().Get("message") == "" {
			t.Fatalf("redirect after success: %d %v", resp.StatusCode, loc)
		}

		var byEmail struct{ Ticket string }
		var conns []map[string]any
		s.call(t, "GET", "/api/v2/connections?name="+dbConn, tok, nil, &conns)
		if st := s.call(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"email": "ken@example.com", "connection_id": conns[0]["id"]}, &byEmail); st != 201 {
			t.Fatalf("ticket by email: %d", st)
		}
		s.wantErr(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"user_id": "auth0|nobody"}, 404, "inexistent_user")
		s.wantErr(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"user_id": u.UserID, "ttl_sec": -1}, 400, "")
		s.wantErr(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"user_id": u.UserID, "result_url": "javascript:alert(1)"}, 400, "")

		var verify struct{ Ticket string }
		if st := s.call(t, "POST", "/api/v2/tickets/email-verification", tok, map[string]any{"user_id": u.UserID}, &verify); st != 201 || !strings.Contains(verify.Ticket, "/u/email-verification?ticket=") {
			t.Fatalf("verification ticket: %d %q", st, verify.Ticket)
		}
		c := browser(t)
		_, page := get(t, c, verify.Ticket)
		csrf := csrfField.FindStringSubmatch(page)
		v, _ := url.Parse(verify.Ticket)
		resp2, err := c.PostForm(s.URL+"/u/email-verification", url.Values{"_csrf": {csrf[1]}, "ticket": {v.Query().Get("ticket")}})
		if err != nil || resp2.StatusCode != 200 {
			t.Fatalf("verify: %v %v", resp2.StatusCode, err)
		}
	})
}

func TestExpiredLinkSaysSoAndOffersANewOne(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	var u user
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "ed@example.com", "verify_email": false}, &u)
	var out struct{ Ticket string }
	s.call(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"user_id": u.UserID, "ttl_sec": 1}, &out)
	s.Clock.Advance(1100 * time.Millisecond) // past the second it lasts
	st, page := get(t, browser(t), out.Ticket)
	if st != http.StatusGone || !strings.Contains(page, "expired") || !strings.Contains(page, "Send me a new link") {
		t.Fatalf("expired link: %d\n%s", st, page)
	}
	if st, page := get(t, browser(t), s.URL+"/lo/reset?ticket=made-up"); st != 404 || !strings.Contains(page, "not valid") {
		t.Fatalf("unknown link: %d\n%s", st, page)
	}
}

func TestInviteAndResetTextsCanBeReplaced(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	texts := map[string]any{
		"usher-invite":           map[string]string{"title": "Join the ACME crew", "description": "Pick a password, ${email}.", "buttonText": "Join"},
		"reset-password":         map[string]string{"title": "Forgot it again?"},
		"reset-password-success": map[string]string{"eventTitle": "Sorted"},
	}
	if st := s.call(t, "PUT", "/api/v2/prompts/reset-password/custom-text/en", tok, texts, nil); st != 200 {
		t.Fatalf("PUT custom text: %d", st)
	}
	var back map[string]map[string]string
	s.call(t, "GET", "/api/v2/prompts/reset-password/custom-text/en", tok, nil, &back)
	if back["usher-invite"]["title"] != "Join the ACME crew" {
		t.Fatalf("custom text read back: %v", back)
	}
	s.wantErr(t, "PUT", "/api/v2/prompts/reset-password/custom-text/en", tok, map[string]any{"reset-password": map[string]any{"title": 3}}, 400, "")

	var invited, member user
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "new@example.com", "verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, &invited)
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "old@example.com", "password": "Old-Passw0rd!", "verify_email": false}, &member)
	var inv, rst struct{ Ticket string }
	s.call(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"user_id": invited.UserID}, &inv)
	s.call(t, "POST", "/api/v2/tickets/password-change", tok, map[string]any{"user_id": member.UserID}, &rst)
	if _, page := get(t, browser(t), inv.Ticket); !strings.Contains(page, "Join the ACME crew") || !strings.Contains(page, "Pick a password, new@example.com.") || !strings.Contains(page, ">Join<") {
		t.Fatalf("invitation page ignores the custom text:\n%s", page)
	}
	if _, page := get(t, browser(t), rst.Ticket); !strings.Contains(page, "Forgot it again?") || !strings.Contains(page, "Set a new password for") {
		t.Fatalf("reset page: custom title, default description expected:\n%s", page)
	}
	if _, page := setPassword(t, browser(t), s.URL, rst.Ticket, "New-Passw0rd!"); !strings.Contains(page, "Sorted") {
		t.Fatalf("success page ignores the custom text:\n%s", page)
	}
}
