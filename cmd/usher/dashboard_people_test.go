package main

// A person's page and the people list: the state they show (invited is
// never active), the name, and the button that mails a link.

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// peopleRow is the state and name the people list shows for email.
func peopleRow(t *testing.T, admin *dashUser, email string) (name, state string) {
	t.Helper()
	_, page := admin.get("/dashboard/users?q=" + url.QueryEscape(email))
	m := regexp.MustCompile(`>` + regexp.QuoteMeta(email) + `</a></td>\s*<td data-label="Name">([^<]*)</td>\s*<td data-label="State"><span class="badge[^"]*">([^<]*)</span>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no row for %s in the people list:\n%s", email, page)
	}
	return m[1], m[2]
}

func TestDashboardPersonPage(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}
		admin := newAdmin(t, s, dsn, "root@example.com")
		pageOf := func(id string) string {
			t.Helper()
			st, page := admin.get("/dashboard/users/" + url.PathEscape(id))
			if st != 200 {
				t.Fatalf("person page: %d\n%s", st, page)
			}
			return page
		}
		mailButton := func(id string) (int, string) {
			t.Helper()
			return admin.post("/dashboard/users/"+url.PathEscape(id)+"/password-mail", url.Values{"_csrf": {admin.csrf()}})
		}

		// Invited Auth0's way: flagged, with the random password the recipe
		// sets, and only given and family names.
		var grace user
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "grace@example.com", "password": "Rand0m-Unkn0wn-Pass!",
			"given_name": "Grace", "family_name": "Hopper", "verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, 201, &grace)
		page := pageOf(grace.UserID)
		if count(page, "state") != "invited" || !strings.Contains(page, "no invitation was sent yet") || !strings.Contains(page, "<dd>Grace Hopper</dd>") {
			t.Fatalf("the page of someone flagged, not yet invited:\n%s", page)
		}
		if name, state := peopleRow(t, admin, "grace@example.com"); name != "Grace Hopper" || state != "invited" {
			t.Fatalf("people list: %q %q", name, state)
		}

		// The button is a form: without the token it does nothing.
		if st, _ := admin.post("/dashboard/users/"+url.PathEscape(grace.UserID)+"/password-mail", url.Values{"_csrf": {"forged-token-forged-token-forged-token"}}); st != http.StatusForbidden {
			t.Fatalf("the mail button without its token: %d", st)
		}
		if !strings.Contains(page, ">Mail an invitation</button>") {
			t.Fatalf("no invitation button:\n%s", page)
		}
		if st, _ := mailButton(grace.UserID); st != http.StatusSeeOther {
			t.Fatalf("mail an invitation: %d", st)
		}
		first := linkOf(t, mailsTo(t, sink, "grace@example.com", 1)[0])
		if !strings.HasSuffix(first, "type=invite") {
			t.Fatalf("the mail is no invitation: %s", first)
		}
		_, page = admin.get("/dashboard/users/" + url.PathEscape(grace.UserID) + "?note=invitation-mailed")
		if count(page, "state") != "invited" || !strings.Contains(page, "invitation is pending; its link expires") ||
			!strings.Contains(page, "An invitation mail is on its way") || !strings.Contains(page, ">Resend the invitation</button>") ||
			!regexp.MustCompile(`href="[^"]*/dashboard/invitations/inv_\w+">Sent [^<]*</a> — <span class="badge pending">pending`).MatchString(page) {
			t.Fatalf("the page after the invitation was mailed:\n%s", page)
		}

		// Again: the invitation is resent, its old link stops working.
		if st, _ := mailButton(grace.UserID); st != http.StatusSeeOther {
			t.Fatalf("resend: %d", st)
		}
		second := linkOf(t, mailsTo(t, sink, "grace@example.com", 2)[1])
		if st, _ := get(t, browser(t), first); st != http.StatusGone || !strings.HasSuffix(second, "type=invite") {
			t.Fatalf("after the resend the old link answered %d; the new one is %s", st, second)
		}
		if invs := invitationsOf(m, "grace@example.com"); len(invs) != 1 || invs[0].steps() != "created,sent,resent,sent" {
			t.Fatalf("invitations after a resend from the page: %+v", invs)
		}

		// Accepted, flag still up (the Action lowers it at the first login):
		// still invited, and the page says why.
		if resp, body := setPassword(t, browser(t), s.URL, second, "Str0ng-Passw0rd!"); resp.StatusCode != 200 {
			t.Fatalf("accept: %d\n%s", resp.StatusCode, body)
		}
		page = pageOf(grace.UserID)
		if count(page, "state") != "invited" || !strings.Contains(page, "stays true until a post-login Action") || strings.Contains(page, ">active<") {
			t.Fatalf("the page after an acceptance Auth0's way:\n%s", page)
		}

		// Imported without a name: the given and family names show.
		file := `[{"email":"ida@example.com","given_name":"Ida","family_name":"Import"}]`
		if st, job, _ := s.postImport(t, m.tok, []byte(file), "users.json", map[string]string{"connection_id": s.connectionID(t, m.tok)}); st != 202 {
			t.Fatalf("import: %d", st)
		} else {
			s.waitJob(t, m.tok, job.ID)
		}
		ida := userByEmail(m, "ida@example.com")
		if name, state := peopleRow(t, admin, "ida@example.com"); name != "Ida Import" || state != "no password" {
			t.Fatalf("people list for an imported person: %q %q", name, state)
		}
		if page := pageOf(ida.UserID); !strings.Contains(page, "<dd>Ida Import</dd>") || !strings.Contains(page, ">Mail a link to choose a password</button>") {
			t.Fatalf("the page of an imported person:\n%s", page)
		}

		// Someone active gets a reset mail.
		var ada user
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "ada@example.com", "name": "Ada Lovelace", "password": "Str0ng-Passw0rd!", "verify_email": false}, 201, &ada)
		page = pageOf(ada.UserID)
		if count(page, "state") != "active" || !strings.Contains(page, "<dd>Ada Lovelace</dd>") || !strings.Contains(page, ">Mail a password reset link</button>") {
			t.Fatalf("the page of someone active:\n%s", page)
		}
		if st, _ := mailButton(ada.UserID); st != http.StatusSeeOther {
			t.Fatalf("reset mail: %d", st)
		}
		if link := linkOf(t, mailsTo(t, sink, "ada@example.com", 1)[0]); !strings.HasSuffix(link, "type=reset") {
			t.Fatalf("the mail to someone active is no reset: %s", link)
		}
		if invs := invitationsOf(m, "ada@example.com"); len(invs) != 0 {
			t.Fatalf("a reset made an invitation: %+v", invs)
		}

		// Someone blocked gets no button, and the form is refused.
		m.must("PATCH", "/api/v2/users/"+url.PathEscape(ada.UserID), map[string]any{"blocked": true}, 200, nil)
		if page := pageOf(ada.UserID); count(page, "state") != "blocked" || strings.Contains(page, "/password-mail") {
			t.Fatalf("the page of someone blocked:\n%s", page)
		}
		if st, page := mailButton(ada.UserID); st != http.StatusBadRequest || !strings.Contains(page, "blocked") {
			t.Fatalf("mail to someone blocked: %d\n%s", st, page)
		}
	})
}
