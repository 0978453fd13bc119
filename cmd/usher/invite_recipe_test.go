package main

// Invitations made Auth0's way (a flagged user, then change_password or a
// password-change ticket) are invitations in Usher's views and counts too.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// recipeInvitation is an invitation as the API lists it, with its source.
type recipeInvitation struct {
	invitation
	Source string `json:"source"`
}

// invitationsOf lists the invitations of email, newest first.
func invitationsOf(m mgmtAPI, email string) []recipeInvitation {
	m.t.Helper()
	var page struct {
		Total       int
		Invitations []recipeInvitation
	}
	m.must("GET", "/usher/v1/invitations?include_totals=true&email="+url.QueryEscape(email), nil, 200, &page)
	for i, inv := range page.Invitations {
		m.must("GET", "/usher/v1/invitations/"+inv.ID, nil, 200, &page.Invitations[i])
	}
	return page.Invitations
}

// pendingTotal counts the pending invitations.
func pendingTotal(m mgmtAPI) int {
	m.t.Helper()
	var page struct{ Total int }
	m.must("GET", "/usher/v1/invitations?status=pending&include_totals=true&per_page=1", nil, 200, &page)
	return page.Total
}

func TestInvitationsTheAuth0WayAreCounted(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}
		admin := newAdmin(t, s, dsn, "root@example.com") // an invitation of Usher's, accepted
		flagged := func(email string) user {
			t.Helper()
			var u user
			// Auth0 wants a password for a database user: the recipe sets a random one.
			m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": email, "password": "Rand0m-Unkn0wn-Pass!",
				"verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, 201, &u)
			return u
		}

		// change_password to a flagged user: an invitation, sent.
		grace := flagged("grace@example.com")
		requestResetMail(t, s, "grace@example.com")
		first := linkOf(t, mailsTo(t, sink, "grace@example.com", 1)[0])
		invs := invitationsOf(m, "grace@example.com")
		if len(invs) != 1 || invs[0].Status != "pending" || invs[0].Source != "password_change" || invs[0].UserID != grace.UserID ||
			invs[0].steps() != "created,sent" || invs[0].History[1].MailID == "" {
			t.Fatalf("invitations after change_password: %+v", invs)
		}
		// Asked again: the same invitation with a new link, not a second one.
		requestResetMail(t, s, "grace@example.com")
		second := linkOf(t, mailsTo(t, sink, "grace@example.com", 2)[1])
		invs = invitationsOf(m, "grace@example.com")
		if len(invs) != 1 || invs[0].steps() != "created,sent,resent,sent" {
			t.Fatalf("invitations after a second change_password: %+v", invs)
		}
		if st, _ := get(t, browser(t), first); st != http.StatusGone {
			t.Fatalf("the replaced link answered %d", st)
		}

		// A ticket for a flagged user: an invitation the caller sends.
		linus := flagged("linus@example.com")
		var ticket struct{ Ticket string }
		m.must("POST", "/api/v2/tickets/password-change", map[string]any{"user_id": linus.UserID, "ttl_sec": 3600}, 201, &ticket)
		invs = invitationsOf(m, "linus@example.com")
		if len(invs) != 1 || invs[0].Status != "pending" || invs[0].Source != "password_change" || invs[0].steps() != "created" {
			t.Fatalf("invitations after a ticket: %+v", invs)
		}
		// A reset for someone not flagged is no invitation.
		var plain user
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "plain@example.com", "password": "Rand0m-Unkn0wn-Pass!"}, 201, &plain)
		m.must("POST", "/api/v2/tickets/password-change", map[string]any{"user_id": plain.UserID}, 201, nil)
		requestResetMail(t, s, "plain@example.com")
		mailsTo(t, sink, "plain@example.com", 1)
		if invs := invitationsOf(m, "plain@example.com"); len(invs) != 0 {
			t.Fatalf("a reset counted as an invitation: %+v", invs)
		}
		if n := pendingTotal(m); n != 2 {
			t.Fatalf("%d pending invitations, want grace's and linus's", n)
		}
		// The home page's rate counts them: one accepted of three.
		if _, page := admin.get("/dashboard/"); !strings.Contains(page, "33%") {
			t.Fatalf("the home page does not count the invitations made Auth0's way:\n%s", page)
		}

		// Accepting marks the invitation accepted; the flag is the recipe's
		// Action's to lower, at the first login, as on Auth0.
		if resp, body := setPassword(t, browser(t), s.URL, second, "Str0ng-Passw0rd!"); resp.StatusCode != http.StatusOK {
			t.Fatalf("accept: %d\n%s", resp.StatusCode, body)
		}
		invs = invitationsOf(m, "grace@example.com")
		if len(invs) != 1 || invs[0].Status != "accepted" || !strings.HasSuffix(invs[0].steps(), ",accepted") {
			t.Fatalf("after acceptance: %+v", invs)
		}
		if u := userByEmail(m, "grace@example.com"); u.AppMetadata["needsInvitation"] != true {
			t.Fatalf("accepting Auth0's way changed the flag: %v", u.AppMetadata)
		}
		if resp, body := setPassword(t, browser(t), s.URL, strings.TrimSuffix(ticket.Ticket, "#"), "Str0ng-Passw0rd!"); resp.StatusCode != http.StatusOK {
			t.Fatalf("accept the ticket: %d\n%s", resp.StatusCode, body)
		}
		if invs := invitationsOf(m, "linus@example.com"); len(invs) != 1 || invs[0].Status != "accepted" {
			t.Fatalf("the ticket's invitation after acceptance: %+v", invs)
		}
		if n := pendingTotal(m); n != 0 {
			t.Fatalf("%d pending invitations after both accepted", n)
		}
		var accepted struct{ Total int }
		m.must("GET", "/usher/v1/invitations?status=accepted&include_totals=true", nil, 200, &accepted)
		if accepted.Total != 3 {
			t.Fatalf("%d accepted invitations, want 3 (with the administrator's)", accepted.Total)
		}

		if _, page := admin.get("/dashboard/"); !strings.Contains(page, "100%") {
			t.Fatalf("the home page after both were accepted:\n%s", page)
		}
	})
}
