package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
)

type invitation struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	UserID        string `json:"user_id"`
	Status        string `json:"status"`
	InvitationURL string `json:"invitation_url"`
	ExpiresAt     string `json:"expires_at"`
	AcceptedAt    string `json:"accepted_at"`
	History       []struct {
		Type       string `json:"type"`
		MailID     string `json:"mail_id"`
		MailStatus string `json:"mail_status"`
	} `json:"history"`
}

func (inv invitation) steps() string {
	var out []string
	for _, h := range inv.History {
		out = append(out, h.Type)
	}
	return strings.Join(out, ",")
}

func TestInvitations(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}

		var inv invitation
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "Nia@Example.com", "name": "Nia", "inviter": map[string]string{"name": "Ada"},
			"result_url": "https://app.example.com/welcome", "app_metadata": map[string]any{"team": "blue"}}, 201, &inv)
		if inv.Status != "pending" || inv.Email != "nia@example.com" || !strings.Contains(inv.InvitationURL, "/lo/reset?ticket=") || inv.steps() != "created,sent" {
			t.Fatalf("created invitation %+v", inv)
		}
		var u user
		m.must("GET", "/api/v2/users/"+strings.ReplaceAll(inv.UserID, "|", "%7C"), nil, 200, &u)
		if u.AppMetadata["needsInvitation"] != true || u.AppMetadata["team"] != "blue" {
			t.Fatalf("the invited user: %+v", u)
		}
		mail := sink.Wait(t, 1, 10*time.Second)[0]
		if !strings.Contains(mail.HTML, "type=invite") {
			t.Fatalf("invitation mail %s", mail.HTML)
		}

		// Inviting an email that has an account is a 409 unless asked to re-invite.
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "nia@example.com"}, 409, nil)

		// A retried create with the same Idempotency-Key returns the same invitation.
		create := func(key string) (int, invitation) {
			var out invitation
			req, _ := http.NewRequest("POST", s.URL+"/usher/v1/invitations", strings.NewReader(`{"email":"omar@example.com","send_invitation_email":false}`))
			req.Header.Set("Authorization", "Bearer "+m.tok)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := s.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			decodeBody(t, resp, &out)
			return resp.StatusCode, out
		}
		st1, first := create("key-1")
		st2, again := create("key-1")
		if st1 != 201 || st2 != 200 || again.ID != first.ID || first.InvitationURL == "" || first.steps() != "created" {
			t.Fatalf("idempotent create: %d %+v / %d %+v", st1, first, st2, again)
		}

		// Resend: a new link; the old one stops working.
		var resent invitation
		m.must("POST", "/usher/v1/invitations/"+inv.ID+"/resend", nil, 200, &resent)
		if resent.InvitationURL == "" || resent.InvitationURL == inv.InvitationURL || resent.steps() != "created,sent,resent,sent" {
			t.Fatalf("resent %+v", resent)
		}
		if st, page := get(t, browser(t), inv.InvitationURL); st != http.StatusGone || !strings.Contains(page, "newer link") {
			t.Fatalf("old link after resend: %d", st)
		}
		if resp, _ := setPassword(t, browser(t), s.URL, resent.InvitationURL, "Str0ng-Passw0rd!"); resp.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(resp.Header.Get("Location"), "https://app.example.com/welcome?") {
			t.Fatalf("accept: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		var accepted invitation
		m.must("GET", "/usher/v1/invitations/"+inv.ID, nil, 200, &accepted)
		if accepted.Status != "accepted" || accepted.AcceptedAt == "" || !strings.HasSuffix(accepted.steps(), ",accepted") {
			t.Fatalf("after acceptance %+v", accepted)
		}
		m.must("POST", "/usher/v1/invitations/"+inv.ID+"/resend", nil, 409, nil)

		// Revoke: the link stops working, the status says so.
		var revoked invitation
		m.must("POST", "/usher/v1/invitations/"+first.ID+"/revoke", nil, 200, &revoked)
		if revoked.Status != "revoked" {
			t.Fatalf("revoked %+v", revoked)
		}
		if st, _ := get(t, browser(t), first.InvitationURL); st != http.StatusGone {
			t.Fatalf("revoked link answered %d", st)
		}

		// Expiry shows in the status; a resend brings it back to life.
		var short invitation
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "quick@example.com", "ttl_sec": 1, "send_invitation_email": false}, 201, &short)
		s.Clock.Advance(1100 * time.Millisecond) // past the second it lasts
		var expired invitation
		m.must("GET", "/usher/v1/invitations/"+short.ID, nil, 200, &expired)
		if expired.Status != "expired" {
			t.Fatalf("status after expiry: %+v", expired)
		}
		var page struct {
			Total       int
			Invitations []invitation
		}
		m.must("GET", "/usher/v1/invitations?status=expired", nil, 200, &page)
		if page.Total != 1 || page.Invitations[0].ID != short.ID {
			t.Fatalf("expired filter: %+v", page)
		}
		m.must("POST", "/usher/v1/invitations/"+short.ID+"/resend", nil, 200, &expired)
		if expired.Status != "pending" {
			t.Fatalf("resend after expiry: %+v", expired)
		}
		m.must("GET", "/usher/v1/invitations?status=accepted", nil, 200, &page)
		if page.Total != 1 {
			t.Fatalf("accepted filter: %+v", page)
		}
		m.must("GET", "/usher/v1/invitations?status=lost", nil, 400, nil)
	})
}

// Usher keeps the tenant's settings, templates and email provider in memory
// for a while: a change made through the API must still reach the very next
// invitation's mail.
func TestInvitationMailFollowsSettings(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		m := mgmtAPI{t, s, s.token(t)}
		type mail struct{ From, Subject, HTML string }
		invite := func(email string) mail {
			t.Helper()
			var inv invitation
			m.must("POST", "/usher/v1/invitations", map[string]any{"email": email}, 201, &inv)
			if len(inv.History) != 2 || inv.History[1].MailID == "" {
				t.Fatalf("invitation %+v", inv)
			}
			var out mail
			m.must("GET", "/usher/v1/outbox/"+inv.History[1].MailID, nil, 200, &out)
			return out
		}
		before := invite("first@example.com")
		if !strings.Contains(before.Subject, "Usher") {
			t.Fatalf("first mail %+v", before)
		}

		m.must("PATCH", "/api/v2/tenants/settings", map[string]any{"friendly_name": "Acme"}, 200, nil)
		m.must("PATCH", "/api/v2/email-templates/reset_email", map[string]any{"subject": "Join {{ friendly_name }} today"}, 200, nil)
		m.must("POST", "/api/v2/emails/provider", map[string]any{"name": "smtp", "enabled": false, "default_from_address": "Acme <hello@acme.example>",
			"credentials": map[string]any{"smtp_host": "127.0.0.1", "smtp_port": 2525}}, 201, nil)
		after := invite("second@example.com")
		if after.Subject != "Join Acme today" || after.From != "Acme <hello@acme.example>" || !strings.Contains(after.HTML, "Acme") {
			t.Errorf("mail after the changes: from %q, subject %q; want Acme's", after.From, after.Subject)
		}
	})
}
