package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestDeployCLISurface calls every Management endpoint Auth0's Deploy CLI
// (a0deploy 8.44) reads on export, and writes on an import of what it
// exported, the way it calls them, and checks Usher's answers: real
// resources where Usher has them, empty lists and switched-off settings in
// Auth0's shapes where it does not, writes that change nothing accepted,
// and changes Usher cannot honour refused naming the feature.
func TestDeployCLISurface(t *testing.T) {
	t.Parallel()
	engines(t, testDeployCLISurface)
}

func testDeployCLISurface(t *testing.T, dsn string) {
	s := startServer(t, dsn, nil)
	tok := s.token(t)

	// Exact answers, as a0deploy asks (query strings included).
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"GET", "/api/v2/rules?page=0&per_page=100&include_totals=true", nil, 200, `{"rules":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/rules", nil, 200, `[]`},
		{"GET", "/api/v2/rules-configs", nil, 200, `[]`},
		{"GET", "/api/v2/hooks?page=0&per_page=100&include_totals=true", nil, 200, `{"hooks":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/roles?per_page=100&page=0&include_totals=true&type=tenant", nil, 200, `{"roles":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/roles?per_page=50&page=2&include_totals=true", nil, 200, `{"roles":[],"start":100,"limit":50,"total":0}`},
		{"GET", "/api/v2/organizations?include_totals=true&take=50", nil, 200, `{"organizations":[]}`},
		{"GET", "/api/v2/organizations?include_totals=true&page=0&per_page=50", nil, 200, `{"organizations":[],"start":0,"limit":50,"total":0}`},
		{"GET", "/api/v2/log-streams", nil, 200, `[]`},
		{"GET", "/api/v2/custom-domains", nil, 200, `[]`},
		{"GET", "/api/v2/actions/modules?page=0&per_page=100", nil, 200, `{"modules":[],"total":0,"page":0,"per_page":100}`},
		{"GET", "/api/v2/forms?page=0&per_page=100&include_totals=true", nil, 200, `{"forms":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/flows?page=0&per_page=100&include_totals=true", nil, 200, `{"flows":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/flows/vault/connections?page=0&per_page=50&include_totals=true", nil, 200, `{"connections":[],"start":0,"limit":50,"total":0}`},
		{"GET", "/api/v2/self-service-profiles?page=0&per_page=100&include_totals=true", nil, 200, `{"self_service_profiles":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/network-acls?page=0&per_page=100&include_totals=true", nil, 200, `{"network_acls":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/user-attribute-profiles?take=10", nil, 200, `{"user_attribute_profiles":[]}`},
		{"GET", "/api/v2/connection-profiles?take=10", nil, 200, `{"connection_profiles":[]}`},
		{"GET", "/api/v2/token-exchange-profiles?take=50", nil, 200, `{"token_exchange_profiles":[]}`},
		{"GET", "/api/v2/rate-limit-policies?take=50", nil, 200, `{"rate_limit_policies":[]}`},
		{"GET", "/api/v2/event-streams?take=50", nil, 200, `{"eventStreams":[]}`},
		{"GET", "/api/v2/connections-directory-provisionings?take=50", nil, 200, `{"directory_provisionings":[]}`},
		{"GET", "/api/v2/branding/phone/providers", nil, 200, `{"providers":[]}`},
		{"GET", "/api/v2/branding/phone/templates", nil, 200, `{"templates":[]}`},
		{"GET", "/api/v2/prompts/rendering?page=0&per_page=100&include_totals=true", nil, 200, `{"configs":[],"start":0,"limit":100,"total":0}`},
		{"GET", "/api/v2/prompts", nil, 200, `{"universal_login_experience":"new","identifier_first":false}`},
		{"GET", "/api/v2/prompts/login-id/partials", nil, 200, `{}`},
		{"GET", "/api/v2/prompts/signup/custom-text/en", nil, 200, `{}`},
		{"GET", "/api/v2/guardian/factors", nil, 200, `[
			{"name":"sms","enabled":false,"trial_expired":false},{"name":"push-notification","enabled":false,"trial_expired":false},
			{"name":"otp","enabled":false,"trial_expired":false},{"name":"email","enabled":false,"trial_expired":false},
			{"name":"duo","enabled":false,"trial_expired":false},{"name":"webauthn-roaming","enabled":false,"trial_expired":false},
			{"name":"webauthn-platform","enabled":false,"trial_expired":false},{"name":"recovery-code","enabled":false,"trial_expired":false}]`},
		{"GET", "/api/v2/guardian/factors/sms/providers/twilio", nil, 200, `{}`},
		{"GET", "/api/v2/guardian/factors/push-notification/providers/sns", nil, 200, `{}`},
		{"GET", "/api/v2/guardian/policies", nil, 200, `[]`},
		{"GET", "/api/v2/guardian/factors/phone/selected-provider", nil, 200, `{"provider":"auth0"}`},
		{"GET", "/api/v2/guardian/factors/phone/message-types", nil, 200, `{"message_types":[]}`},
		{"GET", "/api/v2/attack-protection/brute-force-protection", nil, 200,
			`{"enabled":true,"shields":["block"],"mode":"count_per_identifier_and_ip","allowlist":[],"max_attempts":10}`},
		{"GET", "/api/v2/attack-protection/breached-password-detection", nil, 200,
			`{"enabled":false,"shields":[],"admin_notification_frequency":[],"method":"standard","stage":{"pre-user-registration":{"shields":[]},"pre-change-password":{"shields":[]}}}`},
		{"GET", "/api/v2/attack-protection/suspicious-ip-throttling", nil, 200,
			`{"enabled":false,"shields":["admin_notification","block"],"allowlist":[],"stage":{"pre-login":{"max_attempts":100,"rate":864000},"pre-user-registration":{"max_attempts":50,"rate":1200}}}`},
		{"GET", "/api/v2/risk-assessments/settings", nil, 200, `{"enabled":false}`},
		{"GET", "/api/v2/risk-assessments/settings/new-device", nil, 200, `{"remember_for":30}`},
		{"GET", "/api/v2/supplemental-signals", nil, 200, `{"akamai_enabled":false}`},

		// An import of an unchanged export writes the same settings back.
		{"PUT", "/api/v2/guardian/factors/otp", map[string]any{"enabled": false}, 200, `{"enabled":false}`},
		{"PUT", "/api/v2/guardian/policies", []any{}, 200, `[]`},
		{"PUT", "/api/v2/guardian/factors/phone/selected-provider", map[string]any{"provider": "auth0"}, 200, `{"provider":"auth0"}`},
		{"PUT", "/api/v2/guardian/factors/phone/message-types", map[string]any{"message_types": []any{}}, 200, `{"message_types":[]}`},
		{"PATCH", "/api/v2/attack-protection/brute-force-protection",
			map[string]any{"enabled": true, "shields": []string{"block"}, "mode": "count_per_identifier_and_ip", "allowlist": []string{}, "max_attempts": 10}, 200,
			`{"enabled":true,"shields":["block"],"mode":"count_per_identifier_and_ip","allowlist":[],"max_attempts":10}`},
		{"PATCH", "/api/v2/attack-protection/breached-password-detection", map[string]any{"enabled": false, "method": "standard"}, 200,
			`{"enabled":false,"shields":[],"admin_notification_frequency":[],"method":"standard","stage":{"pre-user-registration":{"shields":[]},"pre-change-password":{"shields":[]}}}`},
		{"PATCH", "/api/v2/risk-assessments/settings", map[string]any{"enabled": false}, 200, `{"enabled":false}`},
		{"PATCH", "/api/v2/risk-assessments/settings/new-device", map[string]any{"remember_for": 30}, 200, `{"remember_for":30}`},
		{"PATCH", "/api/v2/prompts", map[string]any{"identifier_first": false, "universal_login_experience": "new"}, 200,
			`{"universal_login_experience":"new","identifier_first":false}`},
		{"PATCH", "/api/v2/supplemental-signals", map[string]any{"akamai_enabled": false}, 200, `{"akamai_enabled":false}`},
		{"PUT", "/api/v2/prompts/login/partials", map[string]any{}, 200, `{}`},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var got any
			if status := s.call(t, c.method, c.path, tok, c.body, &got); status != c.status {
				t.Fatalf("status %d, want %d (%v)", status, c.status, got)
			}
			var want any
			if err := json.Unmarshal([]byte(c.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
			}
		})
	}

	// Changes Usher would not honour: refused in Auth0's error shape,
	// naming the feature; resources that do not exist: 404.
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		code, names  string
	}{
		{"PUT", "/api/v2/guardian/factors/otp", map[string]any{"enabled": true}, 403, "feature_not_enabled", "Multi-factor authentication"},
		{"PUT", "/api/v2/guardian/factors/carrier-pigeon", map[string]any{"enabled": false}, 400, "invalid_uri", "recovery-code"},
		{"PUT", "/api/v2/guardian/policies", []string{"all-applications"}, 403, "feature_not_enabled", "Multi-factor authentication"},
		{"PUT", "/api/v2/guardian/factors/sms/providers/twilio", map[string]any{"sid": "AC1", "auth_token": "x"}, 403, "feature_not_enabled", "Multi-factor authentication"},
		{"PATCH", "/api/v2/attack-protection/brute-force-protection", map[string]any{"enabled": false}, 403, "feature_not_enabled", "brute_force_protection"},
		{"PATCH", "/api/v2/attack-protection/breached-password-detection", map[string]any{"enabled": true}, 403, "feature_not_enabled", "Breached password detection"},
		{"PATCH", "/api/v2/attack-protection/suspicious-ip-throttling", map[string]any{"enabled": true}, 403, "feature_not_enabled", "Suspicious IP throttling"},
		{"PATCH", "/api/v2/attack-protection/suspicious-ip-throttling", []any{}, 400, "invalid_body", "object"},
		{"GET", "/api/v2/attack-protection/bot-detection", nil, 403, "feature_not_enabled", "Bot detection"},
		{"GET", "/api/v2/attack-protection/captcha", nil, 403, "feature_not_enabled", "CAPTCHA"},
		{"PATCH", "/api/v2/risk-assessments/settings", map[string]any{"enabled": true}, 403, "feature_not_enabled", "Risk assessment"},
		{"PATCH", "/api/v2/prompts", map[string]any{"identifier_first": true}, 403, "feature_not_enabled", "login experience"},
		{"PUT", "/api/v2/prompts/login/partials", map[string]any{"login": map[string]any{"form-content-start": "<div>hi</div>"}}, 403, "feature_not_enabled", "partials"},
		{"PATCH", "/api/v2/prompts/login-id/screen/login-id/rendering", map[string]any{"rendering_mode": "advanced"}, 403, "feature_not_enabled", "Advanced customization"},
		{"POST", "/api/v2/rules", map[string]any{"name": "r", "script": "function (user, context, cb) { cb(null, user, context); }"}, 403, "feature_not_enabled", "Actions"},
		{"PUT", "/api/v2/rules-configs/KEY", map[string]any{"value": "v"}, 403, "feature_not_enabled", "Rules"},
		{"POST", "/api/v2/hooks", map[string]any{"name": "h"}, 403, "feature_not_enabled", "Hooks"},
		{"POST", "/api/v2/roles", map[string]any{"name": "admins"}, 403, "feature_not_enabled", "permissions"},
		{"POST", "/api/v2/organizations", map[string]any{"name": "acme"}, 403, "feature_not_enabled", "Organizations"},
		{"POST", "/api/v2/resource-servers", map[string]any{"identifier": "https://api.example.com/"}, 403, "feature_not_enabled", "Management API"},
		{"POST", "/api/v2/custom-domains", map[string]any{"domain": "login.example.com", "type": "auth0_managed_certs"}, 403, "feature_not_enabled", "USHER_PUBLIC_URL"},
		{"PATCH", "/api/v2/custom-domains/default", map[string]any{"domain": "login.example.com"}, 403, "feature_not_enabled", "Custom domains"},
		{"POST", "/api/v2/log-streams", map[string]any{"type": "http"}, 403, "feature_not_enabled", "/api/v2/logs"},
		{"POST", "/api/v2/branding/themes", map[string]any{}, 403, "feature_not_enabled", "themes"},
		{"GET", "/api/v2/branding/themes/default", nil, 404, "theme_not_found", "theme"},
		{"GET", "/api/v2/rules/rul_1", nil, 404, "inexistent_rule", "rule"},
		{"DELETE", "/api/v2/log-streams/lst_1", nil, 404, "inexistent_log_stream", "log stream"},
		{"GET", "/api/v2/roles/rol_1/permissions?per_page=100", nil, 404, "inexistent_role", "role"},
		{"GET", "/api/v2/hooks/h_1/secrets", nil, 404, "inexistent_hook", "hook"},
	} {
		t.Run("refused "+c.method+" "+c.path, func(t *testing.T) {
			e := s.wantErr(t, c.method, c.path, tok, c.body, c.status, c.code)
			if !strings.Contains(e.Message, c.names) {
				t.Fatalf("message %q does not name %q", e.Message, c.names)
			}
		})
	}

	// The Management API is listed as Auth0 lists it; the Deploy CLI
	// recognises it by its name and leaves it alone.
	t.Run("resource servers", func(t *testing.T) {
		var rs struct {
			Total           int `json:"total"`
			ResourceServers []struct {
				ID, Name, Identifier string
				IsSystem             bool `json:"is_system"`
				Scopes               []struct{ Value, Description string }
			} `json:"resource_servers"`
		}
		s.call(t, "GET", "/api/v2/resource-servers?page=0&per_page=100&include_totals=true", tok, nil, &rs)
		if rs.Total != 1 || len(rs.ResourceServers) != 1 {
			t.Fatalf("%+v", rs)
		}
		api := rs.ResourceServers[0]
		if api.Name != "Auth0 Management API" || api.Identifier != s.URL+"/api/v2/" || !api.IsSystem || api.ID == "" {
			t.Fatalf("%+v", api)
		}
		var readUsers bool
		for _, sc := range api.Scopes {
			readUsers = readUsers || (sc.Value == "read:users" && sc.Description == "Read Users")
		}
		if !readUsers {
			t.Fatalf("scopes %+v lack read:users", api.Scopes)
		}
		var one map[string]any
		if s.call(t, "GET", "/api/v2/resource-servers/"+api.ID, tok, nil, &one) != 200 || one["identifier"] != api.Identifier {
			t.Fatalf("by id: %v", one)
		}
		s.wantErr(t, "PATCH", "/api/v2/resource-servers/"+api.ID, tok, map[string]any{"token_lifetime": 60}, 403, "operation_not_supported")
		s.wantErr(t, "GET", "/api/v2/resource-servers/nope", tok, nil, 404, "inexistent_resource_server")
	})

	// The global client (All Applications) is there for those who look for
	// it, and only for them; it takes writes that change nothing.
	t.Run("global client", func(t *testing.T) {
		var list struct {
			Total   int              `json:"total"`
			Clients []map[string]any `json:"clients"`
		}
		s.call(t, "GET", "/api/v2/clients?page=0&per_page=100&include_totals=true&is_global=true", tok, nil, &list)
		if list.Total != 1 || list.Clients[0]["global"] != true || list.Clients[0]["name"] != "All Applications" {
			t.Fatalf("%+v", list)
		}
		global := list.Clients[0]["client_id"].(string)
		list.Clients = nil
		s.call(t, "GET", "/api/v2/clients?page=0&per_page=100&include_totals=true&is_global=false", tok, nil, &list)
		for _, c := range list.Clients {
			if c["client_id"] == global || c["global"] == true {
				t.Fatalf("the global client is listed with is_global=false: %v", c)
			}
		}
		var got map[string]any
		if s.call(t, "GET", "/api/v2/clients/"+global, tok, nil, &got) != 200 || got["name"] != "All Applications" {
			t.Fatalf("%v", got)
		}
		if s.call(t, "PATCH", "/api/v2/clients/"+global, tok, map[string]any{"custom_login_page_on": false, "name": "All Applications"}, &got) != 200 {
			t.Fatalf("a write that changes nothing: %v", got)
		}
		s.wantErr(t, "PATCH", "/api/v2/clients/"+global, tok, map[string]any{"custom_login_page": "<html></html>", "custom_login_page_on": true}, 403, "feature_not_enabled")
		s.wantErr(t, "DELETE", "/api/v2/clients/"+global, tok, nil, 403, "operation_not_supported")
	})

	// Connections: their realms and enabled clients, as the Deploy CLI
	// reads and writes them.
	t.Run("connections", func(t *testing.T) {
		var app map[string]any
		s.call(t, "POST", "/api/v2/clients", tok, map[string]any{"name": "Deploy CLI app"}, &app)
		appID := app["client_id"].(string)
		var conn map[string]any
		if status := s.call(t, "POST", "/api/v2/connections", tok, map[string]any{"name": "deploy-db", "strategy": "auth0", "realms": []string{"deploy-db"}}, &conn); status != 201 {
			t.Fatalf("create with its own realm: %d %v", status, conn)
		}
		id := conn["id"].(string)
		if status := s.call(t, "PATCH", "/api/v2/connections/"+id, tok, map[string]any{"realms": []string{"deploy-db"}, "is_domain_connection": false}, &conn); status != 200 {
			t.Fatalf("update with its own realm: %d %v", status, conn)
		}
		s.wantErr(t, "PATCH", "/api/v2/connections/"+id, tok, map[string]any{"realms": []string{"elsewhere"}}, 400, "invalid_body")

		clients := func() string {
			var got any
			if status := s.call(t, "GET", "/api/v2/connections/"+id+"/clients?take=100", tok, nil, &got); status != 200 {
				t.Fatalf("enabled clients: %d %v", status, got)
			}
			return mustJSON(t, got)
		}
		if got := clients(); got != `{"clients":[]}` {
			t.Fatal(got)
		}
		if status := s.call(t, "PATCH", "/api/v2/connections/"+id+"/clients", tok, []map[string]any{{"client_id": appID, "status": true}}, nil); status != 204 {
			t.Fatalf("enable: %d", status)
		}
		if got, want := clients(), `{"clients":[{"client_id":"`+appID+`"}]}`; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		s.call(t, "GET", "/api/v2/connections/"+id, tok, nil, &conn)
		if !reflect.DeepEqual(conn["enabled_clients"], []any{appID}) {
			t.Fatalf("enabled_clients %v", conn["enabled_clients"])
		}
		s.call(t, "PATCH", "/api/v2/connections/"+id+"/clients", tok, []map[string]any{{"client_id": appID, "status": false}}, nil)
		if got := clients(); got != `{"clients":[]}` {
			t.Fatal(got)
		}
		s.wantErr(t, "PATCH", "/api/v2/connections/"+id+"/clients", tok, []map[string]any{{"client_id": "nope", "status": true}}, 400, "invalid_body")
		s.wantErr(t, "GET", "/api/v2/connections/con_nope/clients", tok, nil, 404, "inexistent_connection")
	})

	// Tenant settings: the session lifetimes in minutes, as the Deploy CLI
	// writes them.
	t.Run("tenant settings", func(t *testing.T) {
		var got map[string]any
		if status := s.call(t, "PATCH", "/api/v2/tenants/settings", tok, map[string]any{"session_lifetime_in_minutes": 4320, "idle_session_lifetime_in_minutes": 90, "friendly_name": "Deployed"}, &got); status != 200 {
			t.Fatalf("%d %v", status, got)
		}
		if got["session_lifetime"] != 72.0 || got["idle_session_lifetime"] != 1.5 {
			t.Fatalf("lifetimes %v and %v hours", got["session_lifetime"], got["idle_session_lifetime"])
		}
		s.wantErr(t, "PATCH", "/api/v2/tenants/settings", tok, map[string]any{"session_lifetime": 72, "session_lifetime_in_minutes": 4320}, 400, "invalid_body")
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
