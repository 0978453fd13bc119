package main

// The Actions page sets up Auth0's invitation recipe Action in one click.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/mail/mailtest"
)

const clearFlagTemplate = "Clear needsInvitation at first login"

func TestDashboardActionsTemplate(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}
		admin := newAdmin(t, s, dsn, "root@example.com")

		// An action already in the flow stays first.
		var first actionBody
		m.must("POST", "/api/v2/actions/actions", map[string]any{"name": "first", "code": `exports.onExecutePostLogin = async () => {};`,
			"supported_triggers": []map[string]string{{"id": "post-login"}}, "deploy": true}, 201, &first)
		m.must("PATCH", "/api/v2/actions/triggers/post-login/bindings", map[string]any{"bindings": []map[string]any{
			{"ref": map[string]string{"type": "action_id", "value": first.ID}}}}, 200, nil)

		named := func() []actionBody {
			t.Helper()
			var list struct{ Actions []actionBody }
			m.must("GET", "/api/v2/actions/actions?actionName="+url.QueryEscape(clearFlagTemplate), nil, 200, &list)
			var out []actionBody
			for _, a := range list.Actions {
				if a.Name == clearFlagTemplate {
					out = append(out, a)
				}
			}
			return out
		}
		flow := func() []string {
			t.Helper()
			var bs bindingsBody
			m.must("GET", "/api/v2/actions/triggers/post-login/bindings", nil, 200, &bs)
			var out []string
			for _, b := range bs.Bindings {
				out = append(out, b.Action.Name)
			}
			return out
		}

		_, page := admin.get("/dashboard/actions")
		if !strings.Contains(page, clearFlagTemplate) || !strings.Contains(page, `name="template" value="clear-needs-invitation"`) {
			t.Fatalf("the Actions page offers no template:\n%s", page)
		}
		// A form without its token does nothing.
		if st, _ := admin.post("/dashboard/actions/templates", url.Values{"template": {"clear-needs-invitation"}}); st != http.StatusForbidden {
			t.Fatalf("template without a CSRF token: %d", st)
		}
		if got := named(); len(got) != 0 {
			t.Fatalf("a refused form made the action: %+v", got)
		}
		if st, _ := admin.post("/dashboard/actions/templates", url.Values{"_csrf": {admin.csrf()}, "template": {"no-such"}}); st != http.StatusBadRequest {
			t.Fatalf("an unknown template: %d", st)
		}

		// Clicks at once (a double click, two administrators) make one
		// action, bound once.
		token := admin.csrf()
		statuses := make(chan int, 3)
		for range 3 {
			go func() {
				c := *admin.c
				c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
				resp, err := c.PostForm(s.URL+"/dashboard/actions/templates", url.Values{"_csrf": {token}, "template": {"clear-needs-invitation"}})
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		for range 3 {
			if st := <-statuses; st != http.StatusSeeOther {
				t.Errorf("a click at the same time as others: %d", st)
			}
		}

		// One click: created, deployed, bound after what was there. Another
		// click changes nothing.
		for click := 1; click <= 2; click++ {
			if st, _ := admin.post("/dashboard/actions/templates", url.Values{"_csrf": {admin.csrf()}, "template": {"clear-needs-invitation"}}); st != http.StatusSeeOther {
				t.Fatalf("click %d: %d", click, st)
			}
			if got := named(); len(got) != 1 || !got[0].AllChangesDeployed {
				t.Fatalf("after click %d the actions named so are %+v", click, got)
			}
			if got := strings.Join(flow(), ","); got != "first,"+clearFlagTemplate {
				t.Fatalf("after click %d the post-login flow is %s", click, got)
			}
		}
		if _, page := admin.get("/dashboard/actions?note=action-template"); !strings.Contains(page, `id="template-clear-needs-invitation">set up<`) ||
			!strings.Contains(page, "The action is set up") {
			t.Fatalf("the page after setting the template up:\n%s", page)
		}

		// It works: invited Auth0's way, the person accepts and logs in; the
		// flag is down and the next forgot-password mail is a reset.
		app := s.app(t, m.tok, nil)
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "grace@example.com", "password": "Rand0m-Unkn0wn-Pass!",
			"verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, 201, nil)
		requestResetMail(t, s, "grace@example.com")
		if resp, body := setPassword(t, browser(t), s.URL, linkOf(t, mailsTo(t, sink, "grace@example.com", 1)[0]), "Str0ng-Passw0rd!"); resp.StatusCode != 200 {
			t.Fatalf("accept: %d\n%s", resp.StatusCode, body)
		}
		if st, body := s.passwordRealm(t, app, "grace@example.com", "Str0ng-Passw0rd!", "openid"); st != 200 {
			t.Fatalf("first login: %d %v", st, body)
		}
		if u := userByEmail(m, "grace@example.com"); u.AppMetadata["needsInvitation"] != false {
			t.Fatalf("after the first login: %v", u.AppMetadata)
		}
		requestResetMail(t, s, "grace@example.com")
		if link := linkOf(t, mailsTo(t, sink, "grace@example.com", 2)[1]); !strings.HasSuffix(link, "type=reset") {
			t.Fatalf("the next mail is no reset: %s", link)
		}
	})
}
