package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/store"
)

// cli runs `usher ARGS...` in this process with the environment env.
func cli(env map[string]string, args ...string) (string, string, error) {
	var out, errOut strings.Builder
	err := run(context.Background(), append([]string{"usher"}, args...), func(k string) string { return env[k] }, systemClock{}, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestImportCommand(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	m := mgmtAPI{t, s, s.token(t)}
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "member@example.com", "verify_email": false}, 201, nil)
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "people.csv")
	os.WriteFile(csvFile, []byte("email,given_name,app_metadata.team\n"+
		"ada@example.com,Ada,core\n"+
		"member@example.com,Member,core\n"+
		"not-an-email,Broken,core\n"+
		"grace@example.com,Grace,ops\n"), 0o600)
	remote := map[string]string{"USHER_URL": s.URL, "USHER_CLIENT_ID": s.ClientID, "USHER_CLIENT_SECRET": s.ClientSecret}

	// A dry run writes nothing and reports the bad row by line.
	out, errOut, err := cli(remote, "import", "--invite", "--dry-run", csvFile)
	if err == nil || !strings.Contains(out, "dry run, nothing written: would create 2, update 0, invite 2, skip 1 (already have an account), fail 1, of 4 rows") {
		t.Fatalf("dry run: %q %q %v", out, errOut, err)
	}
	if s.outboxTotal(t, m.tok, "") != 0 {
		t.Fatal("a dry run queued mail")
	}
	// The real thing, through the API.
	out, errOut, err = cli(remote, "import", "--invite", csvFile)
	if err == nil || strings.TrimSpace(out) != "created 2, updated 0, invited 2, skipped 1 (already have an account), failed 1, of 4 rows" {
		t.Fatalf("import: %q %q %v", out, errOut, err)
	}
	var report []identity.JobError
	b, _ := os.ReadFile(csvFile + ".errors.json")
	if json.Unmarshal(b, &report) != nil || len(report) != 1 || report[0].Line != 4 || report[0].Errors[0].Code != "FORMAT" {
		t.Fatalf("error report: %s", b)
	}
	var invs struct{ Total int }
	m.must("GET", "/usher/v1/invitations?per_page=1", nil, 200, &invs)
	if invs.Total != 2 || s.outboxTotal(t, m.tok, "") != 2 {
		t.Fatalf("%d invitations, %d mails, want 2 each", invs.Total, s.outboxTotal(t, m.tok, ""))
	}
	// Again, straight on the database: the same file and options are the
	// same import, already done, so it only tells what that import did.
	local := map[string]string{"USHER_DB": dsn, "USHER_PUBLIC_URL": s.URL}
	out, errOut, err = cli(local, "import", "--invite", csvFile)
	if err == nil || !strings.Contains(out, "created 2, updated 0, invited 2") || !strings.Contains(errOut, "this file was imported already") {
		t.Fatalf("--db run of the same file: %q %q %v", out, errOut, err)
	}
	m.must("GET", "/usher/v1/invitations?per_page=1", nil, 200, &invs)
	if invs.Total != 2 || s.outboxTotal(t, m.tok, "") != 2 {
		t.Fatalf("after the --db run: %d invitations, %d mails, want 2 each", invs.Total, s.outboxTotal(t, m.tok, ""))
	}
	// JSON straight on the database, with upsert.
	jsonFile := filepath.Join(dir, "people.json")
	os.WriteFile(jsonFile, []byte(`[{"email":"ada@example.com","given_name":"Ada L."},{"email":"linus@example.com"}]`), 0o600)
	out, errOut, err = cli(local, "import", "--upsert", jsonFile)
	if err != nil || strings.TrimSpace(out) != "created 1, updated 1, invited 0, skipped 0 (already have an account), failed 0, of 2 rows" {
		t.Fatalf("upsert: %q %q %v", out, errOut, err)
	}
	for _, args := range [][]string{{"import"}, {"import", "--db", "", "--url", "", jsonFile}, {"import", "--db", dsn, jsonFile, "extra"}} {
		if _, _, err := cli(nil, args...); exitCode(err, &strings.Builder{}) != 2 {
			t.Fatalf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestImportResumesAfterSIGKILL kills `usher import --invite` half way
// through a file and runs it again: every user and every invitation mail
// exists exactly once.
func TestImportResumesAfterSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildUsher(t)
	engines(t, func(t *testing.T, dsn string) {
		startServer(t, dsn, nil).stop() // the first start makes the tenant's connection
		const n = 40000
		file := filepath.Join(t.TempDir(), "users.json")
		os.WriteFile(file, usersFile(n, "killed", nil), 0o600)
		f, _ := os.Open(file)
		key, _, _ := importKey(f, dbConn, identity.ImportOptions{SkipExisting: true, Invite: true, Format: "json"})
		f.Close()
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()

		cmd := exec.Command(bin, "import", "--db", dsn, "--invite", file)
		cmd.Env = append(os.Environ(), "USHER_DB=", "USHER_URL=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var done int64
		waitFor(t, 60*time.Second, "the import to get going", func() bool {
			job, err := db.JobByIdempotencyKey(context.Background(), key)
			done = job.RowsDone
			return err == nil && job.RowsDone >= 3000
		})
		cmd.Process.Kill() // SIGKILL: no chance to clean up
		cmd.Wait()
		job, _ := db.JobByIdempotencyKey(context.Background(), key)
		if job.Done() {
			t.Fatalf("the import finished before it was killed (%d rows); the test proves nothing", job.RowsDone)
		}
		// The killed run's lease lasts a minute from its last batch; let it
		// run out two seconds from now rather than a minute, as if the
		// kill had come a little less than a minute ago.
		if err := db.LeaseJob(context.Background(), job.ID, job.Claim, time.Now().Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}

		out, errOut, err := cli(map[string]string{"USHER_DB": dsn}, "import", "--invite", file)
		if err != nil || strings.TrimSpace(out) != fmt.Sprintf("created %d, updated 0, invited %d, skipped 0 (already have an account), failed 0, of %d rows", n, n, n) {
			t.Fatalf("rerun after the kill at row %d: %q %q %v", done, out, errOut, err)
		}
		if !strings.Contains(errOut, "going on with the import") || !strings.Contains(errOut, "waiting for it") {
			t.Fatalf("the rerun did not wait for the killed run's lease, then resume: %q", errOut)
		}
		_, users, err := db.Users(context.Background(), identity.UserQuery{PerPage: 1, IncludeTotals: true})
		if err != nil || users != n {
			t.Fatalf("users: %d %v, want %d", users, err, n)
		}
		_, invs, err := db.Invitations(context.Background(), identity.InvitationQuery{PerPage: 1, IncludeTotals: true, Now: time.Now()})
		if err != nil || invs != n {
			t.Fatalf("invitations: %d %v, want %d", invs, err, n)
		}
		_, mails, err := db.Mails(context.Background(), mail.Query{PerPage: 1})
		if err != nil || mails != n {
			t.Fatalf("mails: %d %v, want %d", mails, err, n)
		}
	})
}
