package main

import (
	"context"
	"strings"
	"testing"
)

func TestInviteCommand(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	m := mgmtAPI{t, s, s.token(t)}
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "member@example.com", "verify_email": false}, 201, nil)
	env := func(k string) string {
		return map[string]string{"USHER_URL": s.URL, "USHER_CLIENT_ID": s.ClientID, "USHER_CLIENT_SECRET": s.ClientSecret}[k]
	}
	runCLI := func(stdin string, args ...string) (string, string, error) {
		var out, errOut strings.Builder
		err := run(context.Background(), append([]string{"usher", "invite"}, args...), env, systemClock{}, strings.NewReader(stdin), &out, &errOut)
		return out.String(), errOut.String(), err
	}

	out, _, err := runCLI("", "a@example.com", "b@example.com", "member@example.com")
	if err != nil || strings.TrimSpace(out) != "invited 2, already invited 0, skipped 1 (already have an account), failed 0" {
		t.Fatalf("first run: %q %v", out, err)
	}
	// Running the same command again (as after a crash) invites nobody twice.
	out, _, err = runCLI("a@example.com\nb@example.com\nc@example.com\n", "-")
	if err != nil || strings.TrimSpace(out) != "invited 1, already invited 2, skipped 0 (already have an account), failed 0" {
		t.Fatalf("second run: %q %v", out, err)
	}
	// Straight on the database, with the server still running.
	out, _, err = runCLI("", "--url", "", "--db", dsn, "--public-url", s.URL, "c@example.com", "d@example.com")
	if err != nil || strings.TrimSpace(out) != "invited 1, already invited 1, skipped 0 (already have an account), failed 0" {
		t.Fatalf("--db run: %q %v", out, err)
	}
	out, errOut, err := runCLI("", "not-an-email")
	if err == nil || !strings.Contains(out, "failed 1") || !strings.Contains(errOut, "not-an-email") {
		t.Fatalf("bad email: %q %q %v", out, errOut, err)
	}

	var page struct{ Total int }
	m.must("GET", "/usher/v1/invitations?status=pending", nil, 200, &page)
	if page.Total != 4 {
		t.Fatalf("pending invitations: %d, want 4", page.Total)
	}
	var mails struct{ Total int }
	m.must("GET", "/usher/v1/outbox?per_page=1", nil, 200, &mails)
	if mails.Total != 4 {
		t.Fatalf("outbox holds %d mails, want one per invitation", mails.Total)
	}
	for _, args := range [][]string{{}, {"--db", "", "--url", ""}} {
		err := run(context.Background(), append([]string{"usher", "invite"}, args...), func(string) string { return "" }, systemClock{}, strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
		if exitCode(err, &strings.Builder{}) != 2 {
			t.Fatalf("invite %v: %v, want a usage error", args, err)
		}
	}
}
