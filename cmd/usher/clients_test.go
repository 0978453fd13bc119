package main

// `usher clients create` in the contract's spelling: --type, --callback and
// --grant, on the database and through a running server.

import (
	"net/http"
	"strings"
	"testing"
)

// TestClientsCreateM2MGrant proves that a client made with --type m2m
// --grant read:users gets a token with client_credentials that reads users
// and is refused (403) where another scope is needed, whether the command
// works on the database or through the server's API.
func TestClientsCreateM2MGrant(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		admin := s.token(t)
		targets := map[string]map[string]string{
			"--db":  {"USHER_DB": dsn, "USHER_PUBLIC_URL": s.URL},
			"--url": {"USHER_URL": s.URL, "USHER_CLIENT_ID": s.ClientID, "USHER_CLIENT_SECRET": s.ClientSecret},
		}
		for target, env := range targets {
			t.Run(target, func(t *testing.T) {
				name := "Reports " + target
				out, errOut, code := usher(env, "clients", "create", "--name", name, "--type", "m2m", "--grant", "read:users")
				creds := secretLine.FindStringSubmatch(out)
				if code != 0 || creds == nil || !strings.Contains(out, "  scope:         read:users\n") {
					t.Fatalf("clients create: exit %d\n%s%s", code, out, errOut)
				}
				var client struct {
					AppType    string   `json:"app_type"`
					GrantTypes []string `json:"grant_types"`
				}
				s.call(t, "GET", "/api/v2/clients/"+creds[1], admin, nil, &client)
				if client.AppType != "non_interactive" || len(client.GrantTypes) != 1 || client.GrantTypes[0] != "client_credentials" {
					t.Fatalf("an m2m client: %+v", client)
				}

				token := s.tokenFor(t, creds[1], creds[2])
				var users []map[string]any
				if st := s.call(t, "GET", "/api/v2/users", token, nil, &users); st != http.StatusOK {
					t.Fatalf("GET /api/v2/users with read:users: %d", st)
				}
				s.wantErr(t, "POST", "/api/v2/users", token, map[string]any{"connection": dbConn, "email": "nobody@example.com"},
					http.StatusForbidden, "insufficient_scope")
				s.wantErr(t, "GET", "/api/v2/clients", token, nil, http.StatusForbidden, "insufficient_scope")
			})
		}
	})
}

// TestClientsCreateSpellings checks that the contract's flags and the older
// ones both work, and that a wrong --type or --grant is a usage error that
// makes nothing.
func TestClientsCreateSpellings(t *testing.T) {
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	admin := s.token(t)
	db := map[string]string{"USHER_DB": dsn, "USHER_PUBLIC_URL": s.URL}

	out, errOut, code := usher(db, "clients", "create", "--name", "Web", "--type", "regular_web",
		"--callback", "https://app.example.com/a", "--callback", "https://app.example.com/b", "--callbacks", "https://app.example.com/c",
		"--grant", "read:users create:users", "--grant", "read:logs,read:users")
	creds := secretLine.FindStringSubmatch(out)
	if code != 0 || creds == nil {
		t.Fatalf("clients create: exit %d\n%s%s", code, out, errOut)
	}
	var client struct {
		AppType   string   `json:"app_type"`
		Callbacks []string `json:"callbacks"`
	}
	s.call(t, "GET", "/api/v2/clients/"+creds[1], admin, nil, &client)
	if client.AppType != "regular_web" || strings.Join(client.Callbacks, " ") != "https://app.example.com/c https://app.example.com/a https://app.example.com/b" {
		t.Fatalf("client: %+v", client)
	}
	var grants []struct {
		Audience string   `json:"audience"`
		Scope    []string `json:"scope"`
	}
	s.call(t, "GET", "/api/v2/client-grants?client_id="+creds[1], admin, nil, &grants)
	if len(grants) != 1 || grants[0].Audience != s.URL+"/api/v2/" || strings.Join(grants[0].Scope, " ") != "read:users create:users read:logs" {
		t.Fatalf("grants: %+v", grants)
	}

	// Auth0's own names still work, in both flags.
	for _, args := range [][]string{{"--type", "non_interactive"}, {"--app-type", "non_interactive"}, {"--app-type", "m2m", "--type", "m2m"}} {
		out, errOut, code := usher(db, append([]string{"clients", "create", "--name", "Batch"}, args...)...)
		if code != 0 || secretLine.FindStringSubmatch(out) == nil {
			t.Fatalf("clients create %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}

	var before []any
	s.call(t, "GET", "/api/v2/clients", admin, nil, &before)
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{db, []string{"--type", "robot"}, `--type "robot": want m2m, spa, regular_web or native`},
		{db, []string{"--type", "spa", "--app-type", "native"}, "disagree"},
		{db, []string{"--type", "m2m", "--grant", "read:users read:everything"}, `--grant "read:everything": not a Management API scope`},
		{db, []string{"--grant", " , "}, "--grant needs a scope"},
		{map[string]string{"USHER_DB": dsn}, []string{"--type", "m2m", "--grant", "read:users"}, "with --db, --grant needs --public-url"},
		{map[string]string{"USHER_URL": s.URL, "USHER_CLIENT_ID": s.ClientID, "USHER_CLIENT_SECRET": s.ClientSecret},
			[]string{"--type", "m2m", "--grant", "read:user"}, `--grant "read:user": not a Management API scope`},
	} {
		_, errOut, code := usher(tc.env, append([]string{"clients", "create", "--name", "Wrong"}, tc.args...)...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("clients create %v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
	var after []any
	s.call(t, "GET", "/api/v2/clients", admin, nil, &after)
	if len(after) != len(before) {
		t.Fatalf("a refused command line made a client: %d clients before, %d after", len(before), len(after))
	}
}
