package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// invitationAction is the post-login Action of Auth0's invitation recipe, verbatim.
const invitationAction = `exports.onExecutePostLogin = async (event, api) => { if (event.user.app_metadata.needsInvitation) { api.user.setAppMetadata("needsInvitation", false); } };`

// actionBody is an action or a version as the Management API answers it.
type actionBody struct {
	ID                 string              `json:"id"`
	ActionID           string              `json:"action_id"`
	Name               string              `json:"name"`
	Code               string              `json:"code"`
	Runtime            string              `json:"runtime"`
	Status             string              `json:"status"`
	Number             int                 `json:"number"`
	Deployed           bool                `json:"deployed"`
	AllChangesDeployed bool                `json:"all_changes_deployed"`
	SupportedTriggers  []map[string]string `json:"supported_triggers"`
	Secrets            []map[string]string `json:"secrets"`
	DeployedVersion    *actionBody         `json:"deployed_version"`
	Action             *actionBody         `json:"action"`
	BuiltAt            string              `json:"built_at"`
	CreatedAt          string              `json:"created_at"`
}

type bindingsBody struct {
	Total    int `json:"total"`
	Page     int `json:"page"`
	PerPage  int `json:"per_page"`
	Bindings []struct {
		ID          string     `json:"id"`
		TriggerID   string     `json:"trigger_id"`
		DisplayName string     `json:"display_name"`
		Action      actionBody `json:"action"`
		CreatedAt   string     `json:"created_at"`
	} `json:"bindings"`
}

func TestActionsAPI(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		const secretValue = "s3cr3t-value-never-shown"

		// Triggers.
		var triggers struct {
			Triggers []struct {
				ID             string `json:"id"`
				Version        string `json:"version"`
				DefaultRuntime string `json:"default_runtime"`
			} `json:"triggers"`
		}
		if st := s.call(t, "GET", "/api/v2/actions/triggers", tok, nil, &triggers); st != 200 || len(triggers.Triggers) != 3 ||
			triggers.Triggers[0].ID != "post-login" || triggers.Triggers[0].Version != "v3" || triggers.Triggers[0].DefaultRuntime != "node22" {
			t.Fatalf("triggers: %d %+v", st, triggers)
		}

		// Create: built at once, secrets without their values.
		var a, got actionBody
		st := s.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{
			"name": "Clear invitation flag", "supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}},
			"code": invitationAction, "runtime": "node22", "dependencies": []any{},
			"secrets": []map[string]string{{"name": "API_KEY", "value": secretValue}},
		}, &a)
		if st != 201 || a.ID == "" || a.Status != "built" || a.BuiltAt == "" || a.AllChangesDeployed || a.DeployedVersion != nil ||
			len(a.Secrets) != 1 || a.Secrets[0]["name"] != "API_KEY" || a.Secrets[0]["updated_at"] == "" || a.Secrets[0]["value"] != "" ||
			len(a.SupportedTriggers) != 1 || a.SupportedTriggers[0]["version"] != "v3" {
			t.Fatalf("create: %d %+v", st, a)
		}
		path := "/api/v2/actions/actions/" + a.ID

		// Code that does not compile is a 400 naming the line; so is an unknown property.
		e := s.wantErr(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "broken", "supported_triggers": []map[string]string{{"id": "post-login"}},
			"code": "exports.onExecutePostLogin = async (event, api) => {\n  if (event.user {}\n};"}, 400, "invalid_body")
		if !strings.Contains(e.Message, "line 2") {
			t.Fatalf("syntax error message: %q", e.Message)
		}
		s.wantErr(t, "POST", "/api/v2/actions/actions", tok, `{"name":"x","supported_triggers":[{"id":"post-login"}],"colour":"red"}`, 400, "invalid_body")
		if st := s.call(t, "POST", "/api/v2/actions/actions", tok, `{"name":"whole trigger","code":"","supported_triggers":[{"id":"post-login","version":"v2","status":"CURRENT","runtimes":["node18"],"default_runtime":"node18","compatible_triggers":[],"binding_policy":"trigger-bound"}]}`, &got); st != 201 || got.SupportedTriggers[0]["version"] != "v2" {
			t.Fatalf("create with a whole trigger object: %d %+v", st, got)
		}
		if st := s.call(t, "DELETE", "/api/v2/actions/actions/"+got.ID, tok, nil, nil); st != 204 {
			t.Fatalf("delete an unbound action: %d", st)
		}
		s.wantErr(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "Clear invitation flag", "supported_triggers": []map[string]string{{"id": "post-login"}}}, 409, "")

		// Binding an action never deployed is refused.
		bind := map[string]any{"bindings": []map[string]any{{"ref": map[string]string{"type": "action_name", "value": "Clear invitation flag"}, "display_name": "Invitations"}}}
		s.wantErr(t, "PATCH", "/api/v2/actions/triggers/post-login/bindings", tok, bind, 400, "invalid_body")

		// Deploy arrives with no body and no content type: 202 with the new version.
		var v actionBody
		if st := s.call(t, "POST", path+"/deploy", tok, nil, &v); st != 202 || v.ActionID != a.ID || !v.Deployed || v.Number != 1 || v.Status != "built" ||
			v.Code != invitationAction || v.Action == nil || v.Action.ID != a.ID {
			t.Fatalf("deploy: %d %+v", st, v)
		}
		var v2 actionBody
		if st := s.call(t, "POST", path+"/deploy", tok, nil, &v2); st != 202 || v2.Number != 2 || v2.ID == v.ID {
			t.Fatalf("second deploy: %d %+v", st, v2)
		}
		if st := s.call(t, "GET", path, tok, nil, &got); st != 200 || !got.AllChangesDeployed || got.DeployedVersion == nil || got.DeployedVersion.Number != 2 {
			t.Fatalf("get after deploy: %d %+v", st, got)
		}
		var versions struct {
			Total    int          `json:"total"`
			Versions []actionBody `json:"versions"`
		}
		if st := s.call(t, "GET", path+"/versions", tok, nil, &versions); st != 200 || versions.Total != 2 || versions.Versions[0].Number != 2 || versions.Versions[1].Deployed {
			t.Fatalf("versions: %d %+v", st, versions)
		}
		if st := s.call(t, "GET", path+"/versions/"+v.ID, tok, nil, &got); st != 200 || got.Number != 1 || got.Deployed {
			t.Fatalf("version 1: %d %+v", st, got)
		}
		s.wantErr(t, "GET", path+"/versions/nope", tok, nil, 404, "")
		s.wantErr(t, "GET", "/api/v2/actions/actions/nope", tok, nil, 404, "")

		// Bindings: PATCH replaces the list, GET pages it.
		var patched bindingsBody
		if st := s.call(t, "PATCH", "/api/v2/actions/triggers/post-login/bindings", tok, bind, &patched); st != 200 || len(patched.Bindings) != 1 ||
			patched.Bindings[0].DisplayName != "Invitations" || patched.Bindings[0].TriggerID != "post-login" || patched.Bindings[0].Action.ID != a.ID {
			t.Fatalf("bindings PATCH: %d %+v", st, patched)
		}
		var listed bindingsBody
		if st := s.call(t, "GET", "/api/v2/actions/triggers/post-login/bindings", tok, nil, &listed); st != 200 || listed.Total != 1 || listed.PerPage != 50 ||
			listed.Bindings[0].ID != patched.Bindings[0].ID || listed.Bindings[0].CreatedAt == "" {
			t.Fatalf("bindings GET: %d %+v", st, listed)
		}
		s.wantErr(t, "GET", "/api/v2/actions/triggers/no-such-trigger/bindings", tok, nil, 404, "")
		// An Auth0 trigger Usher does not run has no bindings, and an exported
		// configuration may set it to none.
		if st := s.call(t, "GET", "/api/v2/actions/triggers/credentials-exchange/bindings", tok, nil, &listed); st != 200 || listed.Total != 0 {
			t.Fatalf("bindings of credentials-exchange: %d %+v", st, listed)
		}
		if st := s.call(t, "PATCH", "/api/v2/actions/triggers/credentials-exchange/bindings", tok, `{"bindings":[]}`, &listed); st != 200 || listed.Bindings == nil {
			t.Fatalf("emptying credentials-exchange: %d %+v", st, listed)
		}
		s.wantErr(t, "PATCH", "/api/v2/actions/triggers/credentials-exchange/bindings", tok, bind, 400, "invalid_body")

		// The list and its filters.
		for query, want := range map[string]int{"": 1, "triggerId=post-login": 1, "triggerId=post-change-password": 0, "deployed=true": 1,
			"actionName=" + url.QueryEscape("Clear invitation flag"): 1, "actionName=other": 0, "page=1&per_page=1": 1} {
			var page struct {
				Total   int          `json:"total"`
				Page    int          `json:"page"`
				PerPage int          `json:"per_page"`
				Actions []actionBody `json:"actions"`
			}
			if st := s.call(t, "GET", "/api/v2/actions/actions?"+query, tok, nil, &page); st != 200 || page.Total != want {
				t.Fatalf("list ?%s: %d %+v", query, st, page)
			}
		}

		// A change is a draft until deployed; broken code is refused.
		var patchedAction actionBody
		if st := s.call(t, "PATCH", path, tok, map[string]any{"code": invitationAction + "\n// v3"}, &patchedAction); st != 200 ||
			patchedAction.AllChangesDeployed || patchedAction.DeployedVersion.Number != 2 || len(patchedAction.Secrets) != 1 {
			t.Fatalf("PATCH: %d %+v", st, patchedAction)
		}
		s.wantErr(t, "PATCH", path, tok, map[string]any{"code": "exports.onExecutePostLogin = ("}, 400, "invalid_body")

		// No answer ever carries a secret's value.
		for _, p := range []string{path, path + "/versions", path + "/versions/" + v.ID, "/api/v2/actions/actions", "/api/v2/actions/triggers/post-login/bindings"} {
			var raw json.RawMessage
			s.call(t, "GET", p, tok, nil, &raw)
			if strings.Contains(string(raw), secretValue) {
				t.Fatalf("GET %s shows the secret: %s", p, raw)
			}
		}

		// Delete: 409 while bound, 204 with force (which unbinds it), then 404.
		s.wantErr(t, "DELETE", path, tok, nil, 409, "")
		if st := s.call(t, "DELETE", path+"?force=true", tok, nil, nil); st != 204 {
			t.Fatalf("force delete: %d", st)
		}
		s.wantErr(t, "GET", path, tok, nil, 404, "")
		if s.call(t, "GET", "/api/v2/actions/triggers/post-login/bindings", tok, nil, &listed); listed.Total != 0 {
			t.Fatalf("bindings after delete: %+v", listed)
		}
		s.wantErr(t, "DELETE", path, tok, nil, 404, "")
	})
}

// TestActionsScopes checks that read:actions reads and nothing more.
func TestActionsScopes(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	admin := s.token(t)
	var c map[string]any
	s.call(t, "POST", "/api/v2/clients", admin, map[string]any{"name": "actions reader", "app_type": "non_interactive"}, &c)
	s.call(t, "POST", "/api/v2/client-grants", admin, map[string]any{"client_id": c["client_id"], "audience": s.URL + "/api/v2/", "scope": []string{"read:actions"}}, nil)
	reader := s.tokenFor(t, c["client_id"].(string), c["client_secret"].(string))

	var a actionBody
	if st := s.call(t, "POST", "/api/v2/actions/actions", admin, map[string]any{"name": "gate", "supported_triggers": []map[string]string{{"id": "post-login"}}, "code": invitationAction}, &a); st != 201 {
		t.Fatalf("create: %d", st)
	}
	if st := s.call(t, "GET", "/api/v2/actions/actions/"+a.ID, reader, nil, nil); st != http.StatusOK {
		t.Fatalf("read with read:actions: %d", st)
	}
	for _, r := range []struct{ method, path, scope string }{
		{"POST", "/api/v2/actions/actions/" + a.ID + "/deploy", "create:actions"},
		{"PATCH", "/api/v2/actions/actions/" + a.ID, "update:actions"},
		{"DELETE", "/api/v2/actions/actions/" + a.ID, "delete:actions"},
		{"PATCH", "/api/v2/actions/triggers/post-login/bindings", "update:actions"},
	} {
		if e := s.wantErr(t, r.method, r.path, reader, "{}", 403, "insufficient_scope"); !strings.Contains(e.Message, r.scope) {
			t.Fatalf("%s %s: %q does not name %s", r.method, r.path, e.Message, r.scope)
		}
	}
}
