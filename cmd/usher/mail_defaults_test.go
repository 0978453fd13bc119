package main

// The default invitation and reset mails, rendered by the real server and
// read from its outbox: who invited, until when the link works, a greeting
// by name when there is one, the plain address under the button, and a From
// that names the tenant.

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail"
)

// renderedMail is a mail as GET /usher/v1/outbox/{id} shows it.
type renderedMail struct {
	From    string `json:"from"`
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
}

// mailTo waits for the one mail to email and returns it.
func (s *testServer) mailTo(t *testing.T, tok, email string) renderedMail {
	t.Helper()
	var list struct {
		Mails []struct{ ID string } `json:"mails"`
	}
	waitFor(t, 10*time.Second, "the mail to "+email, func() bool {
		s.call(t, "GET", "/usher/v1/outbox?to="+url.QueryEscape(email), tok, nil, &list)
		return len(list.Mails) > 0
	})
	if len(list.Mails) != 1 {
		t.Fatalf("%d mails to %s, want 1", len(list.Mails), email)
	}
	var m renderedMail
	if st := s.call(t, "GET", "/usher/v1/outbox/"+list.Mails[0].ID, tok, nil, &m); st != http.StatusOK {
		t.Fatalf("outbox mail: %d", st)
	}
	return m
}

var buttonLink = regexp.MustCompile(`<a href="([^"]+)"[^>]*>(Accept the invitation|Choose a new password)</a>`)

// wantLinkTwice checks that the button's address is also written out in
// full, for mail readers that show no button.
func wantLinkTwice(t *testing.T, m renderedMail, suffix string) {
	t.Helper()
	b := buttonLink.FindStringSubmatch(m.HTML)
	if b == nil || !strings.HasSuffix(b[1], suffix) {
		t.Fatalf("no button ending in %s:\n%s", suffix, m.HTML)
	}
	if !strings.Contains(m.HTML, "If the button does not work, copy this address into your browser:<br>"+b[1]+"</p>") {
		t.Errorf("the address is not written out under the button:\n%s", m.HTML)
	}
	if plain := strings.ReplaceAll(b[1], "&amp;", "&"); !strings.Contains(m.Text, plain) {
		t.Errorf("the text part lacks the address %s:\n%s", plain, m.Text)
	}
}

func TestDefaultInvitationMail(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	m := mgmtAPI{t, s, tok}
	host := strings.Split(strings.TrimPrefix(s.URL, "http://"), ":")[0]

	type invitation struct {
		ExpiresAt string `json:"expires_at"`
	}
	until := func(inv invitation) string {
		at, err := time.Parse(time.RFC3339Nano, inv.ExpiresAt)
		if err != nil {
			t.Fatalf("expires_at %q: %v", inv.ExpiresAt, err)
		}
		return mail.ExpiryText(at)
	}

	// Who invited, by name; the person greeted by name.
	var inv invitation
	m.must("POST", "/usher/v1/invitations", map[string]any{"email": "ada@example.com", "name": "Ada Lovelace",
		"inviter": map[string]any{"name": "Grace Hopper"}, "ttl_sec": 86400}, 201, &inv)
	got := s.mailTo(t, tok, "ada@example.com")
	if got.Subject != "Grace Hopper invited you to Usher" {
		t.Errorf("subject %q", got.Subject)
	}
	if got.From != "Usher <no-reply@"+host+">" {
		t.Errorf("From %q, want Usher <no-reply@%s>", got.From, host)
	}
	for _, w := range []string{"<p>Hello Ada Lovelace,</p>", "Grace Hopper invited you to an account at Usher.",
		"This link works until " + until(inv) + "."} {
		if !strings.Contains(got.HTML, w) {
			t.Errorf("the invitation lacks %q:\n%s", w, got.HTML)
		}
	}
	if !regexp.MustCompile(`until \w+day \d{1,2} \w+ 20\d\d, \d\d:\d\d UTC\.`).MatchString(got.Text) {
		t.Errorf("the expiry does not read as a date:\n%s", got.Text)
	}
	wantLinkTwice(t, got, "#type=invite")

	// Nobody named: the tenant invites, the greeting has no name, and a new
	// friendly name shows in the text and the From.
	m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"friendly_name": "Acme, Inc."}, 200, nil)
	m.must("POST", "/usher/v1/invitations", map[string]any{"email": "grace@example.com"}, 201, &inv)
	got = s.mailTo(t, tok, "grace@example.com")
	if got.Subject != "You are invited to Acme, Inc." {
		t.Errorf("subject %q", got.Subject)
	}
	if got.From != `"Acme, Inc." <no-reply@`+host+">" {
		t.Errorf("From %q", got.From)
	}
	for _, w := range []string{"<p>Hello,</p>", "Acme, Inc. invited you to an account. Choose", "This link works until " + until(inv) + "."} {
		if !strings.Contains(got.HTML, w) {
			t.Errorf("the invitation lacks %q:\n%s", w, got.HTML)
		}
	}
	if strings.Contains(got.HTML, "Hello ,") || strings.Contains(got.HTML, "grace@example.com,") {
		t.Errorf("the greeting names no one well:\n%s", got.HTML)
	}

	// A resent invitation tells the new link's time.
	var list struct {
		Invitations []struct{ ID string } `json:"invitations"`
	}
	m.must("GET", "/usher/v1/invitations?email=grace%40example.com", nil, 200, &list)
	m.must("POST", "/usher/v1/invitations/"+list.Invitations[0].ID+"/resend", nil, 200, &inv)
	var mails struct {
		Mails []struct{ ID string } `json:"mails"`
	}
	m.must("GET", "/usher/v1/outbox?to=grace%40example.com", nil, 200, &mails)
	var resent renderedMail
	m.must("GET", "/usher/v1/outbox/"+mails.Mails[0].ID, nil, 200, &resent)
	if !strings.Contains(resent.HTML, "This link works until "+until(inv)+".") {
		t.Errorf("the resent invitation does not tell its link's time (%s):\n%s", inv.ExpiresAt, resent.HTML)
	}

	// The defaults are valid Liquid as Usher checks templates when saved.
	for _, name := range []string{"reset_email", "verify_email"} {
		d := mail.DefaultTemplate(name)
		m.must("PUT", "/api/v2/email-templates/"+name, map[string]any{"template": name, "body": d.Body, "subject": d.Subject,
			"syntax": "liquid", "enabled": true}, 200, nil)
	}
}

func TestDefaultResetMail(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	m := mgmtAPI{t, s, tok}
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "linus@example.com", "given_name": "Linus",
		"password": "Str0ng-Passw0rd!", "verify_email": false}, 201, nil)
	requestResetMail(t, s, "linus@example.com")
	got := s.mailTo(t, tok, "linus@example.com")
	if got.Subject != "Reset your Usher password" {
		t.Errorf("subject %q", got.Subject)
	}
	// The name is the email (none was given): the greeting uses given_name.
	for _, w := range []string{"<p>Hello Linus,</p>", "Someone asked to reset the password of linus@example.com", "This link works until "} {
		if !strings.Contains(got.HTML, w) {
			t.Errorf("the reset mail lacks %q:\n%s", w, got.HTML)
		}
	}
	if strings.Contains(got.HTML, "invited you") {
		t.Errorf("the reset mail reads as an invitation:\n%s", got.HTML)
	}
	wantLinkTwice(t, got, "#type=reset")
}
