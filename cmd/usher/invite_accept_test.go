package main

// What follows an invitation's acceptance: the person's next "forgot
// password" is a reset, never a second invitation.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// mailsTo waits until n mails to email arrived and returns them in order.
func mailsTo(t *testing.T, sink *mailtest.Sink, email string, n int) []mailtest.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for total := 1; ; total++ {
		var mine []mailtest.Message
		for _, m := range sink.Wait(t, total, time.Until(deadline)) {
			if len(m.To) == 1 && m.To[0] == email {
				mine = append(mine, m)
			}
		}
		if len(mine) >= n {
			return mine
		}
	}
}

// userByEmail returns the one account of email.
func userByEmail(m mgmtAPI, email string) user {
	m.t.Helper()
	var found []user
	m.must("GET", "/api/v2/users-by-email?email="+url.QueryEscape(email), nil, 200, &found)
	if len(found) != 1 {
		m.t.Fatalf("accounts of %s: %+v", email, found)
	}
	return found[0]
}

// acceptThenForget accepts the invitation mailed to email, then asks for a
// reset mail as someone who forgot the password does, and checks that the
// second mail is a reset, the flag is down and the invitation accepted.
func acceptThenForget(t *testing.T, m mgmtAPI, sink *mailtest.Sink, email string) {
	t.Helper()
	invite := mailsTo(t, sink, email, 1)[0]
	link := linkOf(t, invite)
	if !strings.HasSuffix(link, "type=invite") {
		t.Fatalf("%s: the first mail is not an invitation: %s", email, link)
	}
	if resp, body := setPassword(t, browser(t), m.s.URL, link, "Str0ng-Passw0rd!"); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s: accept: %d\n%s", email, resp.StatusCode, body)
	}
	u := userByEmail(m, email)
	if v, ok := u.AppMetadata["needsInvitation"]; !ok || v != false {
		t.Errorf("%s: app_metadata after acceptance %v, want needsInvitation false", email, u.AppMetadata)
	}
	var invs struct{ Invitations []invitation }
	m.must("GET", "/usher/v1/invitations?email="+url.QueryEscape(email), nil, 200, &invs)
	if len(invs.Invitations) != 1 || invs.Invitations[0].Status != "accepted" {
		t.Errorf("%s: invitations after acceptance %+v", email, invs.Invitations)
	}

	requestResetMail(t, m.s, email)
	next := mailsTo(t, sink, email, 2)[1]
	if link := linkOf(t, next); !strings.HasSuffix(link, "type=reset") || strings.Contains(next.Subject, "invited") {
		t.Fatalf("%s: forgot password after acceptance sent %q with %s, want a reset", email, next.Subject, link)
	}
	m.must("GET", "/usher/v1/invitations?email="+url.QueryEscape(email), nil, 200, &invs)
	if len(invs.Invitations) != 1 {
		t.Errorf("%s: a reset mail made an invitation: %+v", email, invs.Invitations)
	}
}

func TestInvitationAcceptedClearsTheFlag(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}

		// Through the invitations API.
		m.must("POST", "/usher/v1/invitations", map[string]any{"email": "api@example.com"}, 201, nil)
		acceptThenForget(t, m, sink, "api@example.com")

		// Through an import with invite.
		file := `[{"email":"imported@example.com","given_name":"Ida","family_name":"Import"}]`
		st, job, _ := s.postImport(t, m.tok, []byte(file), "users.json", map[string]string{"connection_id": s.connectionID(t, m.tok), "invite": "true"})
		if job = s.waitJob(t, m.tok, job.ID); st != 202 || job.Summary.Invited != 1 {
			t.Fatalf("import: %d %+v", st, job)
		}
		acceptThenForget(t, m, sink, "imported@example.com")

		// Through `usher invite`, on the database the server serves.
		if out, errOut, err := cli(nil, "invite", "--db", dsn, "--public-url", s.URL, "cli@example.com"); err != nil {
			t.Fatalf("usher invite: %v\n%s%s", err, out, errOut)
		}
		acceptThenForget(t, m, sink, "cli@example.com")
	})
}
