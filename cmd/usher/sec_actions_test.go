package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestActionsMemoryBudget takes the two attacks that used to end the whole
// process with Go's fatal out-of-memory (a top-level 'x'.repeat(2**32) run
// while saving, a string doubling in a bound post-login Action run at every
// login) through the real server: the save is a 400 naming the problem, the
// login fails with Auth0's error and a tenant log event, and the server
// keeps answering.
func TestActionsMemoryBudget(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, map[string]string{"USHER_ACTION_MEMORY_MB": "16"})
		m := mgmtAPI{t, s, s.token(t)}
		postLogin := []map[string]string{{"id": "post-login", "version": "v3"}}

		// Saving code whose top level asks for 4 GB.
		e := s.wantErr(t, "POST", "/api/v2/actions/actions", m.tok, map[string]any{"name": "huge", "supported_triggers": postLogin,
			"code": "const s = 'x'.repeat(2**32);\nexports.onExecutePostLogin = async () => {};"}, 400, "invalid_body")
		if !strings.Contains(e.Message, "ran out of memory") || !strings.Contains(e.Message, "16 MB") {
			t.Fatalf("save: %q does not say the code ran out of its 16 MB", e.Message)
		}

		// A bound Action whose string doubles at every login.
		var a struct{ ID string }
		m.must("POST", "/api/v2/actions/actions", map[string]any{"name": "doubling", "supported_triggers": postLogin,
			"code": "exports.onExecutePostLogin = async (event, api) => {\n  let s = 'x';\n  for (;;) s += s;\n};"}, 201, &a)
		m.must("POST", "/api/v2/actions/actions/"+a.ID+"/deploy", nil, 202, nil)
		bind := map[string]any{"bindings": []map[string]any{{"ref": map[string]string{"type": "action_id", "value": a.ID}}}}
		m.must("PATCH", "/api/v2/actions/triggers/post-login/bindings", bind, 200, nil)
		app := s.app(t, m.tok, nil)
		for _, email := range []string{"ada@example.com", "bo@example.com"} {
			m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": email, "password": "Str0ng-Passw0rd!", "verify_email": false}, 201, nil)
		}
		st, body := s.passwordRealm(t, app, "ada@example.com", "Str0ng-Passw0rd!", "openid")
		if desc, _ := body["error_description"].(string); st != 403 || body["error"] != "access_denied" || !strings.Contains(desc, "ran out of memory") {
			t.Fatalf("login with the doubling Action: %d %v", st, body)
		}
		var logs []map[string]any
		m.must("GET", "/api/v2/logs?q=type:f", nil, 200, &logs)
		if len(logs) != 1 || logs[0]["user_name"] != "ada@example.com" || !strings.Contains(logs[0]["description"].(string), "ran out of memory") {
			t.Fatalf("tenant log: %v", logs)
		}

		// The server still answers, and logs people in once the Action is unbound.
		resp, err := s.HTTP.Get(s.URL + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz after the attack: %v %v", resp, err)
		}
		resp.Body.Close()
		m.must("PATCH", "/api/v2/actions/triggers/post-login/bindings", map[string]any{"bindings": []any{}}, 200, nil)
		if st, body := s.passwordRealm(t, app, "bo@example.com", "Str0ng-Passw0rd!", "openid"); st != 200 {
			t.Fatalf("login after unbinding: %d %v", st, body)
		}
	})
}

// TestActionMemoryConfiguration checks that a bad --action-memory-mb is a
// usage error naming the flag.
func TestActionMemoryConfiguration(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-1", "lots"} {
		err := run(t.Context(), []string{"usher", "serve", "--action-memory-mb", v}, func(string) string { return "" }, systemClock{}, strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "--action-memory-mb") {
			t.Errorf("--action-memory-mb %s: %v, want an error naming the flag", v, err)
		}
	}
}
