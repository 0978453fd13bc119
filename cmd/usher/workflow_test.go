package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// clearInvitationAction is the post-login Action of Auth0's invitation recipe, verbatim.
const clearInvitationAction = `exports.onExecutePostLogin = async (event, api) => {
    if (event.user.app_metadata.needsInvitation) {
        api.user.setAppMetadata("needsInvitation", false);
    }
};`

// TestTheWholeInvitationWorkflow is Auth0's invitation recipe from end to
// end: the Liquid template and the Action as Auth0 documents them, the
// mail over SMTP, the password set in Chromium, a password-realm login that
// clears the flag, and the next mail being the reset text.
func TestTheWholeInvitationWorkflow(t *testing.T) {
	chromiumPath(t)
	engines(t, func(t *testing.T, dsn string) {
		sink := mailtest.Start(t)
		s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
		m := mgmtAPI{t, s, s.token(t)}
		var action struct{ ID string }
		m.must("POST", "/api/v2/actions/actions", map[string]any{"name": "clear-invite", "code": clearInvitationAction,
			"supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}}, "runtime": "node22"}, 201, &action)
		m.must("POST", "/api/v2/actions/actions/"+action.ID+"/deploy", nil, 202, nil)
		m.must("PATCH", "/api/v2/actions/triggers/post-login/bindings", map[string]any{"bindings": []map[string]any{
			{"ref": map[string]string{"type": "action_id", "value": action.ID}, "display_name": "clear-invite"}}}, 200, nil)
		app := s.app(t, m.tok, nil)

		u, link := inviteTheAuth0Way(m, sink, "grace@example.com")

		c := startChromium(t)
		p := c.newTab(false)
		if st := p.open(link); st != http.StatusOK {
			t.Fatalf("invitation link: %d", st)
		}
		p.wantShown("You have been invited as grace@example.com")
		p.typeInto(`#newPassword`, browserStrongPassword)
		p.typeInto(`#confirmNewPassword`, browserStrongPassword)
		if st := p.click(`button[type=submit]`); st != http.StatusOK {
			t.Fatalf("set password: %d\n%s", st, p.shown())
		}

		if st, body := s.passwordRealm(t, app, "grace@example.com", browserStrongPassword, "openid profile email"); st != 200 || body["id_token"] == nil {
			t.Fatalf("first login: %d %v", st, body)
		}
		var after user
		m.must("GET", "/api/v2/users/"+url.PathEscape(u.UserID), nil, 200, &after)
		if after.AppMetadata["needsInvitation"] != false || !after.EmailVerified || after.LoginsCount != 1 {
			t.Fatalf("after the first login: %+v", after)
		}

		requestResetMail(t, s, "grace@example.com")
		mails := sink.Wait(t, 2, 10e9)
		reset := mails[len(mails)-1]
		if !strings.Contains(reset.HTML, "Reset…") || !strings.Contains(reset.HTML, "type=reset") {
			t.Fatalf("the next mail is not the reset text:\n%s", reset.HTML)
		}
		if st := c.newTab(true).open(link); st != http.StatusGone {
			t.Fatalf("the used invitation link answered %d", st)
		}
	})
}

func TestActionsShapeTheLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	m := mgmtAPI{t, s, s.token(t)}
	deploy := func(name, code string) string {
		var a struct{ ID string }
		m.must("POST", "/api/v2/actions/actions", map[string]any{"name": name, "code": code,
			"supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}}}, 201, &a)
		m.must("POST", "/api/v2/actions/actions/"+a.ID+"/deploy", nil, 202, nil)
		return a.ID
	}
	claims := deploy("claims", `exports.onExecutePostLogin = async (event, api) => {
  console.log("hello " + event.user.email);
  api.idToken.setCustomClaim("https://example.com/plan", "pro");
  api.user.setUserMetadata("seen", true);
};`)
	deny := deploy("deny-blocked-domain", `exports.onExecutePostLogin = async (event, api) => {
  if (event.user.email.endsWith("@blocked.example.com")) api.access.deny("This domain may not log in.");
};`)
	bind := func(ids ...string) {
		var b []map[string]any
		for _, id := range ids {
			b = append(b, map[string]any{"ref": map[string]string{"type": "action_id", "value": id}})
		}
		m.must("PATCH", "/api/v2/actions/triggers/post-login/bindings", map[string]any{"bindings": b}, 200, nil)
	}
	bind(claims, deny)
	app := s.app(t, m.tok, nil)
	var ok, blocked user
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "ok@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, 201, &ok)
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "x@blocked.example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, 201, &blocked)

	st, body := s.passwordRealm(t, app, "ok@example.com", "Str0ng-Passw0rd!", "openid")
	if st != 200 {
		t.Fatalf("login: %d %v", st, body)
	}
	parts := strings.Split(body["id_token"].(string), ".")
	payload, _ := decodeSegment(parts[1])
	if !strings.Contains(payload, `"https://example.com/plan":"pro"`) {
		t.Fatalf("custom claim missing from the ID token: %s", payload)
	}
	var after user
	m.must("GET", "/api/v2/users/"+url.PathEscape(ok.UserID), nil, 200, &after)
	if after.UserMetadata["seen"] != true {
		t.Fatalf("user_metadata after login: %v", after.UserMetadata)
	}
	if st, body := s.passwordRealm(t, app, "x@blocked.example.com", "Str0ng-Passw0rd!", "openid"); st != 403 || body["error"] != "access_denied" || body["error_description"] != "This domain may not log in." {
		t.Fatalf("denied login: %d %v", st, body)
	}
	var logs []map[string]any
	m.must("GET", "/api/v2/logs?q=type:actions_console", nil, 200, &logs)
	if len(logs) != 2 || logs[1]["details"].(map[string]any)["lines"].([]any)[0] != "claims: hello ok@example.com" {
		t.Fatalf("console output not in the tenant log: %v", logs)
	}

	// A throwing action fails the login with a clear error, never a hang.
	thrower := deploy("thrower", `exports.onExecutePostLogin = async () => { throw new Error("boom"); };`)
	bind(thrower)
	if st, body := s.passwordRealm(t, app, "ok@example.com", "Str0ng-Passw0rd!", "openid"); st != 403 || !strings.Contains(body["error_description"].(string), "boom") {
		t.Fatalf("throwing action: %d %v", st, body)
	}
}

func TestPreUserRegistrationActionsGateSignUp(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	m := mgmtAPI{t, s, s.token(t)}
	var a struct{ ID string }
	m.must("POST", "/api/v2/actions/actions", map[string]any{"name": "gate", "supported_triggers": []map[string]string{{"id": "pre-user-registration", "version": "v2"}},
		"code": `exports.onExecutePreUserRegistration = async (event, api) => {
  if (!event.user.email.endsWith("@acme.example")) { api.access.deny("signup_denied", "Only ACME staff may sign up."); return; }
  api.user.setAppMetadata("source", "self-signup");
};`}, 201, &a)
	m.must("POST", "/api/v2/actions/actions/"+a.ID+"/deploy", nil, 202, nil)
	m.must("PATCH", "/api/v2/actions/triggers/pre-user-registration/bindings", map[string]any{"bindings": []map[string]any{{"ref": map[string]string{"type": "action_id", "value": a.ID}}}}, 200, nil)
	signup := func(email string) (int, map[string]any) {
		var out map[string]any
		st := s.call(t, "POST", "/dbconnections/signup", "", map[string]any{"email": email, "password": "Str0ng-Passw0rd!", "connection": dbConn}, &out)
		return st, out
	}
	if st, out := signup("someone@elsewhere.example"); st != 400 || !strings.Contains(out["description"].(string), "Only ACME staff") {
		t.Fatalf("denied signup: %d %v", st, out)
	}
	if st, out := signup("dev@acme.example"); st != 200 {
		t.Fatalf("allowed signup: %d %v", st, out)
	}
	var users []user
	m.must("GET", "/api/v2/users-by-email?email=dev@acme.example", nil, 200, &users)
	if len(users) != 1 || users[0].AppMetadata["source"] != "self-signup" {
		t.Fatalf("the action's app_metadata did not land: %+v", users)
	}
}
