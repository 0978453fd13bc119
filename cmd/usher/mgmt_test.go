package main

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type user struct {
	UserID        string         `json:"user_id"`
	Email         string         `json:"email"`
	EmailVerified bool           `json:"email_verified"`
	Name          string         `json:"name"`
	Nickname      string         `json:"nickname"`
	GivenName     string         `json:"given_name"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
	AppMetadata   map[string]any `json:"app_metadata"`
	UserMetadata  map[string]any `json:"user_metadata"`
	Identities    []struct {
		Connection string `json:"connection"`
		UserID     string `json:"user_id"`
		Provider   string `json:"provider"`
		IsSocial   bool   `json:"isSocial"`
	} `json:"identities"`
	LoginsCount int  `json:"logins_count"`
	Blocked     bool `json:"blocked"`
}

const dbConn = "Username-Password-Authentication"

func TestUsers(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)

		var u user
		status := s.call(t, "POST", "/api/v2/users", tok, map[string]any{
			"connection": dbConn, "email": "Ada@Example.COM", "email_verified": false, "verify_email": false,
			"app_metadata": map[string]any{"needsInvitation": true, "plan": "pro"},
		}, &u)
		if status != 201 {
			t.Fatalf("create: %d %+v", status, u)
		}
		if !strings.HasPrefix(u.UserID, "auth0|") || u.Email != "ada@example.com" || u.EmailVerified || u.Name != "ada@example.com" ||
			u.Nickname != "ada" || u.CreatedAt == "" || len(u.Identities) != 1 || u.Identities[0].Connection != dbConn ||
			u.Identities[0].Provider != "auth0" || u.Identities[0].UserID != strings.TrimPrefix(u.UserID, "auth0|") ||
			u.AppMetadata["needsInvitation"] != true || u.UserMetadata == nil {
			t.Fatalf("created user %+v", u)
		}
		path := "/api/v2/users/" + url.PathEscape(u.UserID)

		t.Run("get", func(t *testing.T) {
			var got user
			if s.call(t, "GET", path, tok, nil, &got) != 200 || !reflect.DeepEqual(got, u) {
				t.Fatalf("get: %+v, want %+v", got, u)
			}
			var only map[string]any
			s.call(t, "GET", path+"?fields=email,user_id&include_fields=true", tok, nil, &only)
			if len(only) != 2 || only["email"] != u.Email {
				t.Fatalf("fields: %v", only)
			}
		})

		t.Run("duplicate email is a 409 and writes nothing", func(t *testing.T) {
			s.wantErr(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "ADA@example.com"}, 409, "auth0_idp_error")
			var all []user
			s.call(t, "GET", "/api/v2/users-by-email?email=ada@example.com", tok, nil, &all)
			if len(all) != 1 {
				t.Fatalf("users with that email: %d", len(all))
			}
		})

		t.Run("update merges metadata one level deep", func(t *testing.T) {
			var got user
			status := s.call(t, "PATCH", path, tok, map[string]any{
				"app_metadata":  map[string]any{"needsInvitation": nil, "roles": []string{"admin"}},
				"user_metadata": map[string]any{"theme": map[string]any{"dark": true}},
				"given_name":    "Ada",
			}, &got)
			if status != 200 {
				t.Fatalf("patch: %d", status)
			}
			want := map[string]any{"plan": "pro", "roles": []any{"admin"}}
			if !reflect.DeepEqual(got.AppMetadata, want) || got.UserMetadata["theme"] == nil || got.GivenName != "Ada" || got.Email != u.Email {
				t.Fatalf("after patch %+v", got)
			}
			var cleared user
			s.call(t, "PATCH", path, tok, map[string]any{"user_metadata": map[string]any{}}, &cleared)
			if len(cleared.UserMetadata) != 0 || len(cleared.AppMetadata) != 2 {
				t.Fatalf("empty object should clear user_metadata only: %+v", cleared)
			}
			var unset user
			s.call(t, "PATCH", path, tok, map[string]any{"given_name": nil}, &unset)
			if unset.GivenName != "" || unset.Email != u.Email {
				t.Fatalf("null should unset given_name: %+v", unset)
			}
		})

		t.Run("update refuses what Auth0 refuses", func(t *testing.T) {
			s.wantErr(t, "PATCH", path, tok, map[string]any{"password": "Str0ng-enough!", "email": "x@example.com"}, 400, "")
			s.wantErr(t, "PATCH", path, tok, map[string]any{"app_metadata": map[string]any{"user_id": "x"}}, 400, "invalid_body")
			s.wantErr(t, "PATCH", path, tok, map[string]any{"password": "weak"}, 400, "")
			s.wantErr(t, "PATCH", "/api/v2/users/auth0|nobody", tok, map[string]any{"name": "x"}, 404, "inexistent_user")
		})

		t.Run("passwords follow the connection's policy", func(t *testing.T) {
			s.wantErr(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "weak@example.com", "password": "password"}, 400, "")
			if s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "strong@example.com", "password": "Correct-Horse-9"}, nil) != 201 {
				t.Fatal("a good password was refused")
			}
		})

		t.Run("validation", func(t *testing.T) {
			for _, body := range []map[string]any{
				{"email": "no-connection@example.com"},
				{"connection": "No-Such-Connection", "email": "a@example.com"},
				{"connection": dbConn},
				{"connection": dbConn, "email": "not an email"},
				{"connection": dbConn, "email": "u@example.com", "username": "ada"},
				{"connection": dbConn, "email": "n@example.com", "name": strings.Repeat("x", 301)},
			} {
				s.wantErr(t, "POST", "/api/v2/users", tok, body, 400, "")
			}
		})

		t.Run("list, search and page", func(t *testing.T) {
			for i := 0; i < 5; i++ {
				s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": fmt.Sprintf("page%d@example.com", i), "app_metadata": map[string]any{"needsInvitation": i%2 == 0}}, nil)
			}
			var bare []user
			if s.call(t, "GET", "/api/v2/users?per_page=2&page=1&sort=email:1&q=email:page*", tok, nil, &bare) != 200 || len(bare) != 2 || bare[0].Email != "page2@example.com" {
				t.Fatalf("bare page: %+v", bare)
			}
			var wrapped struct {
				Start, Limit, Length, Total int
				Users                       []user
			}
			s.call(t, "GET", "/api/v2/users?include_totals=true&search_engine=v3&q="+url.QueryEscape(`app_metadata.needsInvitation:true`), tok, nil, &wrapped)
			if wrapped.Total != 3 || wrapped.Length != 3 || len(wrapped.Users) != 3 || wrapped.Limit != 50 {
				t.Fatalf("wrapped: %+v", wrapped)
			}
			s.call(t, "GET", "/api/v2/users?include_totals=true&q="+url.QueryEscape(`email:"PAGE3@example.com"`), tok, nil, &wrapped)
			if wrapped.Total != 1 || wrapped.Users[0].Email != "page3@example.com" {
				t.Fatalf("email search: %+v", wrapped)
			}
			s.wantErr(t, "GET", "/api/v2/users?q="+url.QueryEscape("email:a OR email:b"), tok, nil, 400, "invalid_query_string")
			s.wantErr(t, "GET", "/api/v2/users?per_page=101", tok, nil, 400, "invalid_query_string")
			s.wantErr(t, "GET", "/api/v2/users-by-email", tok, nil, 400, "invalid_query_string")
		})

		t.Run("delete", func(t *testing.T) {
			if s.call(t, "DELETE", path, tok, nil, nil) != 204 {
				t.Fatal("delete not 204")
			}
			s.wantErr(t, "GET", path, tok, nil, 404, "inexistent_user")
		})
	})
}

func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		count := func() int {
			var w struct{ Total int }
			s.call(t, "GET", "/api/v2/users?include_totals=true", tok, nil, &w)
			return w.Total
		}
		before := count()
		big := `{"connection":"` + dbConn + `","email":"big@example.com","user_metadata":{"blob":"` + strings.Repeat("x", 1<<20) + `"}}`
		for _, tc := range []struct {
			name, body string
			status     int
			message    string
		}{
			{"malformed JSON", `{"connection": "x",`, 400, "Invalid request payload JSON format"},
			{"not JSON at all", `connection=x`, 400, "Invalid request payload JSON format"},
			{"empty body", ``, 400, "Invalid request payload JSON format"},
			{"unknown field", `{"connection":"` + dbConn + `","email":"u@example.com","favourite_colour":"blue"}`, 400, "Additional properties not allowed: favourite_colour"},
			{"wrong type", `{"connection":"` + dbConn + `","email":"u@example.com","email_verified":"yes"}`, 400, "email_verified"},
			{"array instead of object", `[]`, 400, "Expected type object"},
			{"two documents", `{"connection":"` + dbConn + `","email":"u@example.com"}{}`, 400, "Invalid request payload JSON format"},
			{"body over 1 MB", big, 413, "greater than maximum allowed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := s.wantErr(t, "POST", "/api/v2/users", tok, tc.body, tc.status, "")
				if !strings.Contains(e.Message, tc.message) {
					t.Fatalf("message %q does not contain %q", e.Message, tc.message)
				}
			})
		}
		if after := count(); after != before {
			t.Fatalf("bad requests wrote users: %d before, %d after", before, after)
		}
	})
}

func TestConcurrentCreatesOfOneEmailYieldOneUser(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		var wg sync.WaitGroup
		statuses := make(chan int, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "race@example.com"}, nil)
			}()
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for st := range statuses {
			counts[st]++
		}
		if counts[201] != 1 || counts[409] != 7 {
			t.Fatalf("statuses %v, want one 201 and seven 409", counts)
		}
	})
}

type client struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	Name                    string   `json:"name"`
	AppType                 string   `json:"app_type"`
	Callbacks               []string `json:"callbacks"`
	AllowedLogoutURLs       []string `json:"allowed_logout_urls"`
	GrantTypes              []string `json:"grant_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	IsFirstParty            bool     `json:"is_first_party"`
}

func TestClientsAndGrants(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		var c client
		if s.call(t, "POST", "/api/v2/clients", tok, map[string]any{"name": "Billing", "app_type": "regular_web", "callbacks": []string{"https://billing.example.com/cb"}}, &c) != 201 {
			t.Fatalf("create client: %+v", c)
		}
		if len(c.ClientID) != 32 || len(c.ClientSecret) < 32 || c.TokenEndpointAuthMethod != "client_secret_post" || len(c.GrantTypes) == 0 || !c.IsFirstParty {
			t.Fatalf("created client %+v", c)
		}
		path := "/api/v2/clients/" + c.ClientID
		var got map[string]any
		s.call(t, "GET", path, tok, nil, &got)
		if got["name"] != "Billing" || got["client_secret"] != nil {
			t.Fatalf("get client shows %v (the secret must not come back)", got)
		}
		var updated client
		s.call(t, "PATCH", path, tok, map[string]any{"app_type": "non_interactive", "grant_types": []string{"client_credentials"}, "allowed_logout_urls": []string{"https://billing.example.com"}}, &updated)
		if updated.AppType != "non_interactive" || !reflect.DeepEqual(updated.GrantTypes, []string{"client_credentials"}) || updated.Name != "Billing" || len(updated.Callbacks) != 1 {
			t.Fatalf("updated client %+v", updated)
		}
		s.wantErr(t, "PATCH", path, tok, map[string]any{"client_id": "mine"}, 400, "invalid_body")
		s.wantErr(t, "PATCH", path, tok, map[string]any{"app_type": "toaster"}, 400, "")
		s.wantErr(t, "POST", "/api/v2/clients", tok, map[string]any{"name": "<script>"}, 400, "")

		// Without a grant the client gets no Management token.
		if status, body := s.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "audience": {s.URL + "/api/v2/"}}); status != 403 || body["error"] != "access_denied" {
			t.Fatalf("token without grant: %d %v", status, body)
		}
		var g struct {
			ID, ClientID, Audience string
			Scope                  []string
		}
		if s.call(t, "POST", "/api/v2/client-grants", tok, map[string]any{"client_id": c.ClientID, "audience": s.URL + "/api/v2/", "scope": []string{"read:users"}}, &g) != 201 || g.ID == "" {
			t.Fatalf("create grant %+v", g)
		}
		s.wantErr(t, "POST", "/api/v2/client-grants", tok, map[string]any{"client_id": c.ClientID, "audience": s.URL + "/api/v2/", "scope": []string{"read:users"}}, 409, "")
		s.wantErr(t, "POST", "/api/v2/client-grants", tok, map[string]any{"client_id": c.ClientID, "audience": s.URL + "/api/v2/", "scope": []string{"launch:rockets"}}, 400, "")
		s.wantErr(t, "POST", "/api/v2/client-grants", tok, map[string]any{"client_id": "nobody", "audience": s.URL + "/api/v2/", "scope": []string{}}, 404, "")

		reader := s.tokenFor(t, c.ClientID, c.ClientSecret)
		if s.call(t, "GET", "/api/v2/users", reader, nil, nil) != 200 {
			t.Fatal("read:users token cannot list users")
		}
		s.wantErr(t, "POST", "/api/v2/users", reader, map[string]any{"connection": dbConn, "email": "x@example.com"}, 403, "insufficient_scope")

		var checkpoint struct {
			ClientGrants []map[string]any `json:"client_grants"`
			Next         string
		}
		s.call(t, "GET", "/api/v2/client-grants?take=1", tok, nil, &checkpoint)
		if len(checkpoint.ClientGrants) != 1 || checkpoint.Next != g.ID {
			t.Fatalf("checkpoint paging of grants: %+v", checkpoint)
		}
		var grants []map[string]any
		s.call(t, "GET", "/api/v2/client-grants?client_id="+c.ClientID, tok, nil, &grants)
		if len(grants) != 1 || grants[0]["id"] != g.ID {
			t.Fatalf("grants for client: %v", grants)
		}
		s.call(t, "PATCH", "/api/v2/client-grants/"+g.ID, tok, map[string]any{"scope": []string{"read:users", "create:users"}}, nil)
		if s.call(t, "POST", "/api/v2/users", s.tokenFor(t, c.ClientID, c.ClientSecret), map[string]any{"connection": dbConn, "email": "x@example.com"}, nil) != 201 {
			t.Fatal("widened grant did not allow create:users")
		}

		var rotated client
		s.call(t, "POST", path+"/rotate-secret", tok, nil, &rotated)
		if rotated.ClientSecret == "" || rotated.ClientSecret == c.ClientSecret {
			t.Fatal("rotate-secret returned no new secret")
		}
		if status, _ := s.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "audience": {s.URL + "/api/v2/"}}); status != 401 {
			t.Fatalf("old secret still works after rotation: %d", status)
		}

		var page struct {
			Total   int
			Clients []client
		}
		s.call(t, "GET", "/api/v2/clients?include_totals=true&per_page=1", tok, nil, &page)
		// The bootstrap client, the dashboard's own client, and this one.
		if page.Total != 3 || len(page.Clients) != 1 {
			t.Fatalf("clients page %+v", page)
		}
		if s.call(t, "DELETE", path, tok, nil, nil) != 204 {
			t.Fatal("delete client")
		}
		s.wantErr(t, "GET", path, tok, nil, 404, "")
		s.call(t, "GET", "/api/v2/client-grants?client_id="+c.ClientID, tok, nil, &grants)
		if len(grants) != 0 {
			t.Fatalf("grants outlived their client: %v", grants)
		}
	})
}

func TestConnections(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		var created map[string]any
		if s.call(t, "POST", "/api/v2/connections", tok, map[string]any{"name": "Staff", "strategy": "auth0"}, &created) != 201 {
			t.Fatalf("create connection %v", created)
		}
		s.wantErr(t, "POST", "/api/v2/connections", tok, map[string]any{"name": "Staff", "strategy": "auth0"}, 409, "")
		s.wantErr(t, "POST", "/api/v2/connections", tok, map[string]any{"name": "Google", "strategy": "google-oauth2"}, 400, "")

		var first struct {
			Connections []map[string]any
			Next        string
		}
		s.call(t, "GET", "/api/v2/connections?include_totals=true&take=1", tok, nil, &first)
		if len(first.Connections) != 1 || first.Next == "" {
			t.Fatalf("first checkpoint page %+v", first)
		}
		var second struct {
			Connections []map[string]any
			Next        string
		}
		s.call(t, "GET", "/api/v2/connections?take=1&from="+first.Next, tok, nil, &second)
		if len(second.Connections) != 1 || second.Next != "" || second.Connections[0]["name"] != "Staff" {
			t.Fatalf("second checkpoint page %+v", second)
		}
		var byName []map[string]any
		s.call(t, "GET", "/api/v2/connections?strategy=auth0&name="+dbConn, tok, nil, &byName)
		if len(byName) != 1 {
			t.Fatalf("by name %v", byName)
		}
		id := byName[0]["id"].(string)
		if !strings.HasPrefix(id, "con_") || len(id) != 20 {
			t.Fatalf("connection id %q", id)
		}

		// PATCH replaces options whole.
		var patched map[string]any
		s.call(t, "PATCH", "/api/v2/connections/"+id, tok, map[string]any{"options": map[string]any{
			"passwordPolicy": "excellent", "password_complexity_options": map[string]any{"min_length": 12}, "disable_signup": true,
		}}, &patched)
		opts := patched["options"].(map[string]any)
		if opts["passwordPolicy"] != "excellent" || opts["disable_signup"] != true || opts["brute_force_protection"] != nil {
			t.Fatalf("options after PATCH %v (brute_force_protection should be gone: options are replaced)", opts)
		}
		s.wantErr(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "p@example.com", "password": "Abcdef-1234"}, 400, "")
		if s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "p@example.com", "password": "Abcdef-12345"}, nil) != 201 {
			t.Fatal("12-character password refused under min_length 12")
		}
		s.wantErr(t, "PATCH", "/api/v2/connections/"+id, tok, map[string]any{"options": map[string]any{"passwordPolicy": "strongest"}}, 400, "")
		s.wantErr(t, "PATCH", "/api/v2/connections/"+id, tok, map[string]any{"options": map[string]any{"password_complexity_options": map[string]any{"min_length": 0}}}, 400, "")
		s.wantErr(t, "PATCH", "/api/v2/connections/"+id, tok, map[string]any{"name": "Renamed"}, 400, "")

		// Deleting a connection deletes its users.
		staffID := created["id"].(string)
		s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": "Staff", "email": "staff@example.com"}, nil)
		if s.call(t, "DELETE", "/api/v2/connections/"+staffID, tok, nil, nil) != 204 {
			t.Fatal("delete connection")
		}
		var left []user
		s.call(t, "GET", "/api/v2/users-by-email?email=staff@example.com", tok, nil, &left)
		if len(left) != 0 {
			t.Fatalf("users outlived their connection: %v", left)
		}
	})
}

func TestTenantSettings(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		var got map[string]any
		s.call(t, "GET", "/api/v2/tenants/settings", tok, nil, &got)
		if got["session_lifetime"] != float64(168) || got["idle_session_lifetime"] != float64(72) || got["default_directory"] != dbConn {
			t.Fatalf("default settings %v", got)
		}
		s.call(t, "PATCH", "/api/v2/tenants/settings", tok, map[string]any{"friendly_name": "Acme", "support_email": "help@acme.example", "support_url": "https://acme.example/help"}, &got)
		var again map[string]any
		s.call(t, "GET", "/api/v2/tenants/settings", tok, nil, &again)
		if again["friendly_name"] != "Acme" || again["support_email"] != "help@acme.example" || again["support_url"] != "https://acme.example/help" || again["session_lifetime"] != float64(168) {
			t.Fatalf("settings after PATCH %v", again)
		}
		s.wantErr(t, "PATCH", "/api/v2/tenants/settings", tok, map[string]any{"support_email": "nope"}, 400, "")
		s.wantErr(t, "PATCH", "/api/v2/tenants/settings", tok, map[string]any{"session_lifetime": "long"}, 400, "")
		s.wantErr(t, "PATCH", "/api/v2/tenants/settings", tok, map[string]any{"default_directory": "Missing"}, 400, "")
		s.wantErr(t, "PATCH", "/api/v2/tenants/settings", tok, map[string]any{"colour": "blue"}, 400, "")
	})
}
