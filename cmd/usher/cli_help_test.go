package main

// What the command line says: every command's --help, the version, and the
// one line a mistyped command gets back, with its exit status.

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// usher runs `usher ARGS...` as main() would: its output and exit status.
func usher(env map[string]string, args ...string) (stdout, stderr string, code int) {
	var out, errOut strings.Builder
	err := run(context.Background(), append([]string{"usher"}, args...), func(k string) string { return env[k] }, systemClock{}, strings.NewReader(""), &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func TestCommandHelp(t *testing.T) {
	t.Parallel()
	// A secret in the environment, which no help may show.
	env := map[string]string{"USHER_CLIENT_SECRET": "s3cret-from-the-env", "USHER_DB": "postgres://u:dbpass@db/usher"}
	for _, tc := range []struct {
		args  []string
		usage string   // the synopsis starts so
		flags []string // lines the help holds
	}{
		{[]string{"serve", "--help"}, "usage: usher serve [flags]", []string{"  --addr string\n", "  --mail-rate int\n", "  --action-memory-mb int\n", "  --tls-cert string\n", "(default 127.0.0.1:8080)"}},
		{[]string{"migrate", "--help"}, "usage: usher migrate [--db DSN]", []string{"  --db string\n"}},
		{[]string{"invite", "--help"}, "usage: usher invite [--db DSN | --url URL", []string{"  --ttl duration\n", "  --result-url string\n", "  --client-secret string\n", "  --public-url string\n"}},
		{[]string{"import", "-h"}, "usage: usher import [--db DSN | --url URL", []string{"  --dry-run\n", "  --invite\n", "  --upsert\n", "  --ttl duration\n", "  --connection string\n"}},
		{[]string{"admin", "invite", "--help"}, "usage: usher admin invite [--db DSN --public-url URL | --url URL", []string{"  --public-url string\n", "  --url string\n"}},
		{[]string{"admin", "--help"}, "usage: usher admin invite", []string{"  --db string\n"}},
		{[]string{"clients", "rotate-secret", "--help"}, "usage: usher clients rotate-secret [--db DSN | --url URL", []string{"  --db string\n"}},
		{[]string{"clients", "create", "--help"}, "usage: usher clients create", []string{"  --name string\n", "  --type string\n", "  --callback URL\n", "  --grant SCOPE\n", "  --callbacks string\n"}},
		{[]string{"version", "--help"}, "usage: usher version", nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := usher(env, tc.args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, tc.usage) {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
			}
			// One paragraph of prose after the synopsis, then the flags.
			parts := strings.SplitN(out, "\n\n", 3)
			if len(parts) < 2 || len(strings.Fields(parts[1])) < 25 || !strings.HasSuffix(strings.TrimSpace(parts[1]), ".") {
				t.Fatalf("no paragraph saying what the command does:\n%s", out)
			}
			for _, f := range tc.flags {
				if !strings.Contains(out, f) {
					t.Errorf("the help lacks %q:\n%s", f, out)
				}
			}
			if regexp.MustCompile(`(?m)^\s+-[a-z]`).MatchString(out) {
				t.Errorf("a flag is shown with one dash:\n%s", out)
			}
			if strings.Contains(out, "s3cret-from-the-env") || strings.Contains(out, "dbpass") {
				t.Errorf("the help shows a value from the environment:\n%s", out)
			}
		})
	}
	out, _, _ := usher(env, "invite", "--help")
	if !strings.Contains(out, "(now set by USHER_CLIENT_SECRET)") {
		t.Errorf("the help does not say the secret comes from the environment:\n%s", out)
	}
	out, _, code := usher(nil, "--help")
	for _, cmd := range []string{"serve", "migrate", "invite", "import", "admin invite", "clients create", "clients rotate-secret", "version"} {
		if code != 0 || !strings.Contains(out, "  usher "+cmd) {
			t.Errorf("usher --help does not list %s:\n%s", cmd, out)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, errOut, code := usher(nil, args...)
		if code != 0 || errOut != "" || !regexp.MustCompile(`^usher \S+ \((commit \S+|commit unknown)[^)]*\), built with go\S+\n$`).MatchString(out) {
			t.Errorf("usher %v: exit %d %q %q", args, code, out, errOut)
		}
	}
}

func TestCommandLineMistakes(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	if _, errOut, code := usher(nil, "migrate", "--db", dsn); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	// Migrated but never served: no tenant yet, and the command says what to do.
	if _, errOut, code := usher(map[string]string{"USHER_PUBLIC_URL": "https://id.example.com"}, "admin", "invite", "--db", dsn, "a@example.com"); code != 1 ||
		!strings.Contains(errOut, "has no tenant yet; start usher serve on it once first") {
		t.Fatalf("admin invite before the first start: %d %s", code, errOut)
	}
	startServer(t, dsn, nil).stop()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string // in the one line on stderr
	}{
		{"unknown flag", nil, []string{"serve", "--bogus"}, 2, []string{"unknown flag --bogus", "see usher serve --help"}},
		{"single-dash unknown flag", nil, []string{"import", "-x", "f.csv"}, 2, []string{"unknown flag --x", "see usher import --help"}},
		{"flag without value", nil, []string{"invite", "--db"}, 2, []string{"--db needs a value", "see usher invite --help"}},
		{"bad duration", nil, []string{"invite", "--db", dsn, "--ttl", "soon", "a@example.com"}, 2, []string{`--ttl "soon": want a duration such as 72h`}},
		{"bad boolean", nil, []string{"import", "--invite=maybe", "f.csv"}, 2, []string{`--invite "maybe": want true or false`}},
		{"bad number", nil, []string{"serve", "--mail-rate", "lots"}, 2, []string{`--mail-rate "lots"`, "see usher serve --help"}},
		{"unexpected argument", nil, []string{"migrate", "--db", dsn, "now"}, 2, []string{`unexpected argument "now"`}},
		{"--db and --url", nil, []string{"import", "--db", dsn, "--url", "http://127.0.0.1:1", "f.csv"}, 2,
			[]string{"--db and --url both name a target", "not both"}},
		{"USHER_DB and USHER_URL", map[string]string{"USHER_DB": dsn, "USHER_URL": "http://127.0.0.1:1"}, []string{"invite", "a@example.com"}, 2,
			[]string{"USHER_DB and USHER_URL are both set", "--db DSN or --url URL"}},
		// A flag wins over the other target's variable: this is --url, without its credentials.
		{"--url over USHER_DB", map[string]string{"USHER_DB": dsn}, []string{"invite", "--url", "http://127.0.0.1:1", "a@example.com"}, 2,
			[]string{"--url needs --client-id and --client-secret"}},
		{"no target", nil, []string{"admin", "invite", "a@example.com"}, 2, []string{"say where: --db DSN", "see usher admin invite --help"}},
		{"admin invite --db without public URL", nil, []string{"admin", "invite", "--db", dsn, "a@example.com"}, 2,
			[]string{"--public-url URL (or USHER_PUBLIC_URL)", "the acceptance link starts with it"}},
		{"admin without invite", nil, []string{"admin", "promote"}, 2, []string{"the subcommand is invite", "see usher admin invite --help"}},
		{"clients without subcommand", nil, []string{"clients"}, 2, []string{"create and rotate-secret"}},
		{"bad TLS pair", map[string]string{"USHER_DB": dsn}, []string{"serve", "--tls-cert", "c.pem"}, 2, []string{"--tls-cert and --tls-key go together"}},
		{"missing file", map[string]string{"USHER_DB": dsn}, []string{"import", "missing.csv"}, 1, []string{"missing.csv"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := usher(tc.env, tc.args...)
			if code != tc.code || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, want %d; stderr must be one line:\n%s%s", code, tc.code, errOut, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
		})
	}
	// admin invite --db with the public URL goes ahead, and the link starts with it.
	out, errOut, code := usher(map[string]string{"USHER_PUBLIC_URL": "https://id.example.com"}, "admin", "invite", "--db", dsn, "a@example.com")
	if code != 0 || !strings.Contains(out, "\n  https://id.example.com/lo/reset?ticket=") {
		t.Fatalf("admin invite with USHER_PUBLIC_URL: %d\n%s%s", code, out, errOut)
	}
	// invite --db without one says where its links point.
	out, errOut, code = usher(nil, "invite", "--db", dsn, "b@example.com")
	if code != 0 || !strings.Contains(errOut, "warning: no --public-url (or USHER_PUBLIC_URL): links point at http://127.0.0.1:8080") {
		t.Fatalf("invite --db without a public URL: %d\n%s%s", code, out, errOut)
	}
}
