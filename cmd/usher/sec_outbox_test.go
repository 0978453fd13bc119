package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// A mail's link is as good as a password: whoever holds it sets the
// account's password. These tests check where a link can be read. With an
// SMTP server set up, only the mail sent carries it: not the outbox API
// (read:outbox), not the dashboard, not the database, before or after
// delivery. Without one (the development mailbox), a pending mail shows
// its link, as the person reading it there is the only way it arrives.

// ticketOf is the ticket token in a link.
func ticketOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("ticket") == "" {
		t.Fatalf("no ticket in %q", link)
	}
	return u.Query().Get("ticket")
}

// outboxMailText is GET /usher/v1/outbox/{id}, whole, and the mail's status.
func outboxMailText(t *testing.T, s *testServer, tok, id string) (body, status string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/usher/v1/outbox/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /usher/v1/outbox/%s: %d %s", id, resp.StatusCode, data)
	}
	var m struct{ Status string }
	json.Unmarshal(data, &m)
	return string(data), m.Status
}

// waitStatus waits until the outbox shows mail id in status.
func waitStatus(t *testing.T, s *testServer, tok, id, status string) {
	t.Helper()
	waitFor(t, 20*time.Second, id+" to be "+status, func() bool {
		_, got := outboxMailText(t, s, tok, id)
		return got == status
	})
}

// wantNoToken fails when text holds any of the tokens.
func wantNoToken(t *testing.T, where, text string, tokens map[string]string) {
	t.Helper()
	for whose, token := range tokens {
		if strings.Contains(text, token) {
			i := strings.Index(text, token)
			t.Errorf("%s holds %s's link token: …%s…", where, whose, text[max(0, i-120):min(len(text), i+len(token)+40)])
		}
	}
}

// TestOutboxKeepsNoUsableLink follows invitations through an SMTP outage,
// a delivery and a permanent refusal, and looks for their link tokens
// everywhere but the mail sent.
func TestOutboxKeepsNoUsableLink(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}
		// The first administrator's invitation goes out like anyone's.
		admin := newAdmin(t, s, dsn, "root@example.com")
		rootMail := sink.Wait(t, 1, 10*time.Second)[0]
		tokens := map[string]string{"root": ticketOf(t, linkOf(t, rootMail))}

		// The SMTP server is down: the invitation waits in the outbox.
		sink.Stop()
		var nia invitation
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "nia@example.com"}, 201, &nia)
		tokens["nia"] = ticketOf(t, nia.InvitationURL)
		niaMail := nia.History[1].MailID
		waitStatus(t, s, m.tok, niaMail, "failed")

		// Pending, with SMTP set up: the link is in no view of the outbox.
		body, _ := outboxMailText(t, s, m.tok, niaMail)
		if !strings.Contains(body, "[link hidden]") {
			t.Errorf("the pending mail does not say its link is hidden:\n%s", body)
		}
		wantNoToken(t, "GET /usher/v1/outbox/{id} of a pending mail", body, tokens)
		for _, path := range []string{"/dashboard/mail/outbox/" + niaMail, "/dashboard/mail/outbox/" + niaMail + "/html", "/dashboard/mail/outbox"} {
			st, page := admin.get(path)
			if st != http.StatusOK {
				t.Fatalf("GET %s: %d", path, st)
			}
			wantNoToken(t, "the dashboard's "+path+" of a pending mail", page, tokens)
		}

		// The server is back; a retry after the failure still carries the link.
		sink.Restart(t)
		m.must("POST", "/usher/v1/outbox/"+niaMail+"/retry", nil, 200, nil)
		waitStatus(t, s, m.tok, niaMail, "sent")
		var sent mailtest.Message
		for _, msg := range sink.Wait(t, 2, 10*time.Second) {
			if slices.Contains(msg.To, "nia@example.com") {
				sent = msg
			}
		}
		link := linkOf(t, sent)
		if ticketOf(t, link) != tokens["nia"] || !strings.Contains(sent.Text, tokens["nia"]) {
			t.Fatalf("the mail sent does not carry the invitation's link %s:\n%s", nia.InvitationURL, sent.HTML)
		}

		// A permanent refusal: the mail is given up.
		sink.Reject(true)
		var zoe invitation
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "zoe@example.com"}, 201, &zoe)
		tokens["zoe"] = ticketOf(t, zoe.InvitationURL)
		zoeMail := zoe.History[1].MailID
		waitStatus(t, s, m.tok, zoeMail, "dead")
		sink.Reject(false)
		// Sent again, it would carry a dead link: it is refused, and says why.
		var refused mgmtErr
		if st := s.call(t, "POST", "/usher/v1/outbox/"+zoeMail+"/retry", m.tok, nil, &refused); st != http.StatusBadRequest ||
			!strings.Contains(refused.Message, "link") {
			t.Errorf("retry of a dead mail whose link is gone: %d %+v; want 400 saying the link is gone", st, refused)
		}

		// Delivered or given up: no copy anywhere holds a link, and the
		// links that were mailed still work.
		for _, id := range []string{niaMail, zoeMail} {
			body, _ := outboxMailText(t, s, m.tok, id)
			wantNoToken(t, "GET /usher/v1/outbox/"+id, body, tokens)
			for _, path := range []string{"/dashboard/mail/outbox/" + id, "/dashboard/mail/outbox/" + id + "/html"} {
				_, page := admin.get(path)
				wantNoToken(t, "the dashboard's "+path, page, tokens)
			}
		}
		_, page := admin.get("/dashboard/mail/outbox")
		wantNoToken(t, "the dashboard's outbox", page, tokens)
		dump := dumpDatabase(t, dsn)
		if !strings.Contains(dump, "mails:") {
			t.Fatalf("the dump holds no mail:\n%.2000s", dump)
		}
		wantNoToken(t, "the database", dump, tokens)

		if resp, page := setPassword(t, browser(t), s.URL, link, browserStrongPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("the link mailed to Nia: %d\n%s", resp.StatusCode, page)
		}
	})
}

// TestDevMailboxShowsTheLink is the quick tour without SMTP: the pending
// mail's link is read in the outbox and works. Once an SMTP server is set
// up (here turned off, so the mail stays pending), it is hidden.
func TestDevMailboxShowsTheLink(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		m := mgmtAPI{t, s, s.token(t)}
		admin := newAdmin(t, s, dsn, "root@example.com")
		var inv invitation
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "ada@example.com"}, 201, &inv)
		token := ticketOf(t, inv.InvitationURL)
		id := inv.History[1].MailID

		var one struct{ Text, HTML, Status string }
		m.must("GET", "/usher/v1/outbox/"+id, nil, 200, &one)
		if one.Status != "queued" || !strings.Contains(one.Text, inv.InvitationURL) || !strings.Contains(one.HTML, token) {
			t.Fatalf("the development mailbox does not show the link %s:\n%s", inv.InvitationURL, one.Text)
		}
		for _, path := range []string{"/dashboard/mail/outbox/" + id, "/dashboard/mail/outbox/" + id + "/html"} {
			if _, page := admin.get(path); !strings.Contains(page, token) {
				t.Errorf("the dashboard's %s does not show the link", path)
			}
		}
		_, page := admin.get("/dashboard/mail/outbox")
		if !strings.Contains(page, "links included") {
			t.Errorf("the outbox does not say links show here:\n%s", page)
		}

		// An SMTP server is set up, turned off: the mail waits, its link hidden.
		m.must("POST", "/api/v2/emails/provider", map[string]any{"name": "smtp", "enabled": false,
			"credentials": map[string]any{"smtp_host": "127.0.0.1", "smtp_port": 2525}}, 201, nil)
		body, _ := outboxMailText(t, s, m.tok, id)
		wantNoToken(t, "GET /usher/v1/outbox/{id} once SMTP is set up", body, map[string]string{"ada": token})
		for _, path := range []string{"/dashboard/mail/outbox/" + id, "/dashboard/mail/outbox/" + id + "/html"} {
			_, page := admin.get(path)
			wantNoToken(t, "the dashboard's "+path+" once SMTP is set up", page, map[string]string{"ada": token})
		}

		// Without it again, the link read in the mailbox works.
		m.must("DELETE", "/api/v2/emails/provider", nil, 204, nil)
		m.must("GET", "/usher/v1/outbox/"+id, nil, 200, &one)
		link := linkInText(t, one.Text)
		if resp, page := setPassword(t, browser(t), s.URL, link, browserStrongPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("the link read in the mailbox: %d\n%s", resp.StatusCode, page)
		}
	})
}

// linkInText is the first ticket link of a mail's text.
func linkInText(t *testing.T, text string) string {
	t.Helper()
	for _, f := range strings.Fields(text) {
		if strings.Contains(f, "?ticket=") {
			return strings.Trim(f, "()<>.,")
		}
	}
	t.Fatalf("no link in %q", text)
	return ""
}
