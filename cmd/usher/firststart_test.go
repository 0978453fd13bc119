package main

// A newcomer's first starts: what `usher serve` creates and prints when the
// port is taken, the first time it runs, and every time after; where it
// says mail goes; and that a bad TLS file stops it before it listens.

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// noBootstrap leaves the bootstrap client to the server, as on a
// newcomer's machine.
var noBootstrap = map[string]string{"USHER_BOOTSTRAP_CLIENT_ID": "", "USHER_BOOTSTRAP_CLIENT_SECRET": ""}

func with(env map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// serveOnce runs `usher serve` in this process until it returns, with a
// deadline in case it does not; for starts that must fail.
func serveOnce(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, log syncBuffer
	err = run(ctx, append([]string{"usher", "serve"}, args...), func(k string) string { return env[k] }, systemClock{}, strings.NewReader(""), &out, &log)
	if ctx.Err() != nil {
		t.Fatalf("usher serve did not stop by itself:\n%s", out.String())
	}
	return out.String(), log.String(), err
}

// tableCount is how many tables the database behind dsn holds (0 when it
// does not exist).
func tableCount(t *testing.T, dsn string) int {
	t.Helper()
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return 0
		}
	}
	return strings.Count(dumpDatabase(t, dsn), "\n")
}

var secretLine = regexp.MustCompile(`(?m)^  client_id:\s+(\S+)\n  client_secret:\s+(\S+)$`)

func TestFirstStartCredentialsOnce(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		addr := freeAddr(t)
		env := with(noBootstrap, map[string]string{"USHER_ADDR": addr, "USHER_DB": dsn, "USHER_LOG_FORMAT": "json"})
		if strings.HasPrefix(dsn, "postgres") {
			env["USHER_SECRET_KEY"] = testSecretKey
		}

		// 1. The port is taken: the start fails, says why, and creates nothing.
		taken, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		out, log, err := serveOnce(t, env)
		taken.Close()
		if exitCode(err, &strings.Builder{}) != 1 || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "--addr") {
			t.Fatalf("start on a taken port: %v, want an error saying the address is in use", err)
		}
		if strings.Contains(out, "client_secret") || strings.Contains(out, "listening") {
			t.Fatalf("a start that failed printed:\n%s", out)
		}
		if n := tableCount(t, dsn); n != 0 {
			t.Fatalf("a start that failed left %d rows in the database\n%s", n, log)
		}
		if _, err := os.Stat(strings.TrimPrefix(dsn, "sqlite:") + ".key"); err == nil {
			t.Fatal("a start that failed made a key file")
		}

		// 2. The first start that listens prints the credentials, which work.
		s := startServer(t, dsn, env)
		creds := secretLine.FindStringSubmatch(s.Stdout.String())
		if creds == nil {
			t.Fatalf("the first start printed no credentials:\n%s", s.Stdout)
		}
		s.tokenFor(t, creds[1], creds[2])
		s.stop()

		// 3. Every later start says how to get a secret, and shows none.
		s = startServer(t, dsn, env)
		out = s.Stdout.String()
		if strings.Contains(out, "client_secret") || strings.Contains(out, creds[2]) {
			t.Fatalf("a later start printed a secret:\n%s", out)
		}
		if !strings.Contains(out, "Management API client "+creds[1]+": its secret was shown once") ||
			!strings.Contains(out, "usher clients rotate-secret --db ") || !strings.Contains(out, "USHER_BOOTSTRAP_CLIENT_SECRET") {
			t.Fatalf("a later start does not say how to get a secret:\n%s", out)
		}

		// 4. That command gives a new secret, which the running server takes;
		// the old one stops working.
		out, errOut, err := cli(map[string]string{"USHER_DB": dsn}, "clients", "rotate-secret")
		rotated := secretLine.FindStringSubmatch(out)
		if err != nil || rotated == nil || rotated[1] != creds[1] || rotated[2] == creds[2] {
			t.Fatalf("clients rotate-secret: %v\n%s%s", err, out, errOut)
		}
		s.tokenFor(t, rotated[1], rotated[2])
		if st, _ := s.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {creds[1]},
			"client_secret": {creds[2]}, "audience": {s.URL + "/api/v2/"}}); st != http.StatusUnauthorized {
			t.Fatalf("the old secret still gets a token: %d", st)
		}
		// With its variables set, the operator knows the secret: no line.
		s.stop()
		s = startServer(t, dsn, with(env, map[string]string{"USHER_BOOTSTRAP_CLIENT_ID": creds[1], "USHER_BOOTSTRAP_CLIENT_SECRET": "chosen-by-the-operator"}))
		if out := s.Stdout.String(); strings.Contains(out, "Management API client") || strings.Contains(out, "chosen-by-the-operator") {
			t.Fatalf("a start with USHER_BOOTSTRAP_CLIENT_SECRET printed:\n%s", out)
		}
	})
}

func TestClientsCommand(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	remote := map[string]string{"USHER_URL": s.URL, "USHER_CLIENT_ID": s.ClientID, "USHER_CLIENT_SECRET": s.ClientSecret}

	// Created on the database, rotated through the API.
	out, errOut, err := cli(map[string]string{"USHER_DB": dsn}, "clients", "create", "--name", "Reports", "--app-type", "non_interactive")
	created := secretLine.FindStringSubmatch(out)
	if err != nil || created == nil || !strings.Contains(out, "Created the client Reports") {
		t.Fatalf("clients create: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err = cli(remote, "clients", "rotate-secret", created[1])
	rotated := secretLine.FindStringSubmatch(out)
	if err != nil || rotated == nil || rotated[1] != created[1] || rotated[2] == created[2] {
		t.Fatalf("clients rotate-secret --url: %v\n%s%s", err, out, errOut)
	}
	// Created through the API.
	out, errOut, err = cli(remote, "clients", "create", "--name", "Web", "--app-type", "regular_web", "--callbacks", "https://app.example.com/cb")
	if err != nil || secretLine.FindStringSubmatch(out) == nil {
		t.Fatalf("clients create --url: %v\n%s%s", err, out, errOut)
	}
	var list []struct {
		Name      string   `json:"name"`
		Callbacks []string `json:"callbacks"`
	}
	s.call(t, "GET", "/api/v2/clients", s.token(t), nil, &list)
	found := 0
	for _, c := range list {
		if c.Name == "Reports" || (c.Name == "Web" && len(c.Callbacks) == 1 && c.Callbacks[0] == "https://app.example.com/cb") {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("clients: %+v", list)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clients", "rotate-secret", "--db", dsn, "no-such-client"}, "does not exist"},
		{[]string{"clients", "rotate-secret"}, "--url, name the client"},
		{[]string{"clients", "create", "--db", dsn}, "--name is required"},
	} {
		env := remote
		if strings.Contains(strings.Join(tc.args, " "), "--db") {
			env = nil
		}
		_, _, err := cli(env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestServeSaysWhereMailGoes(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	if !strings.Contains(s.Stdout.String(), "Mail: no SMTP configured: mail waits in the outbox (dashboard → Outbox)\n") {
		t.Fatalf("without SMTP:\n%s", s.Stdout)
	}
	s.stop()
	s = startServer(t, dsn, map[string]string{"USHER_SMTP_URL": "smtp://user:pass@mail.example.com:2525"})
	if out := s.Stdout.String(); !strings.Contains(out, "Mail: sent through the SMTP server mail.example.com:2525 (USHER_SMTP_URL)\n") || strings.Contains(out, "pass") {
		t.Fatalf("with USHER_SMTP_URL:\n%s", out)
	}
	// The email provider set through the API wins over USHER_SMTP_URL.
	m := mgmtAPI{t, s, s.token(t)}
	m.must("POST", "/api/v2/emails/provider", map[string]any{"name": "smtp", "enabled": true,
		"credentials": map[string]any{"smtp_host": "relay.example.com", "smtp_port": 587, "smtp_user": "u", "smtp_pass": "p"}}, 201, nil)
	s.stop()
	s = startServer(t, dsn, map[string]string{"USHER_SMTP_URL": "smtp://mail.example.com:2525"})
	if !strings.Contains(s.Stdout.String(), "Mail: sent through the SMTP server relay.example.com:587 (the email provider") {
		t.Fatalf("with an email provider:\n%s", s.Stdout)
	}
	m = mgmtAPI{t, s, s.token(t)}
	m.must("PATCH", "/api/v2/emails/provider", map[string]any{"enabled": false}, 200, nil)
	s.stop()
	s = startServer(t, dsn, nil)
	if !strings.Contains(s.Stdout.String(), "Mail: the email provider is disabled: mail waits in the outbox") {
		t.Fatalf("with the provider disabled:\n%s", s.Stdout)
	}
}

func TestServeChecksTLSFilesBeforeListening(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing certificate", filepath.Join(dir, "missing.pem"), garbage, "missing.pem"},
		{"missing key", garbage, filepath.Join(dir, "missing-key.pem"), "garbage.pem"},
		{"not a certificate", garbage, garbage, "garbage.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			dsn := sqliteDSN(t)
			out, _, err := serveOnce(t, map[string]string{"USHER_ADDR": addr, "USHER_DB": dsn, "USHER_TLS_CERT_FILE": tc.cert, "USHER_TLS_KEY_FILE": tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--tls-cert") {
				t.Fatalf("serve: %v, want an error naming %s", err, tc.want)
			}
			if strings.Contains(out, "listening") || tableCount(t, dsn) != 0 {
				t.Fatalf("a start with a bad TLS file got going:\n%s", out)
			}
			// The port was never taken.
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("the address stays taken: %v", err)
			}
			ln.Close()
		})
	}
	// A good pair still serves HTTPS.
	cert, key := selfSignedCert(t)
	s := startServer(t, sqliteDSN(t), map[string]string{"USHER_TLS_CERT_FILE": cert, "USHER_TLS_KEY_FILE": key})
	if !strings.Contains(s.Stdout.String(), "listening on https://") {
		t.Fatalf("with TLS:\n%s", s.Stdout)
	}
	resp, err := s.HTTP.Get(s.URL + "/healthz")
	if err != nil || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
}
