package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFullDisk runs a server whose SQLite file is on a small disk, and
// fills the disk: writes answer 503 in Auth0's shape, reads go on, nothing
// is half-written, and once there is room again the same writes succeed.
// It needs to mount a tmpfs (root, as in CI) and skips otherwise.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("cannot mount a small disk for the test (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	s := startServer(t, "sqlite:"+filepath.Join(dir, "usher.db"), nil)
	tok := s.token(t)
	newUser := func(email string) map[string]any {
		return map[string]any{"connection": dbConn, "email": email, "password": "Str0ng-Passw0rd!", "verify_email": false}
	}
	if st := s.call(t, "POST", "/api/v2/users", tok, newUser("before@example.com"), nil); st != 201 {
		t.Fatalf("create a user with room: %d", st)
	}

	// Take every byte left.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()

	// SQLite may still fit a few writes in room it holds; then a write meets
	// the full disk.
	refused := ""
	for i := 0; i < 500 && refused == ""; i++ {
		email := fmt.Sprintf("during%03d@example.com", i)
		var e mgmtErr
		switch st := s.call(t, "POST", "/api/v2/users", tok, newUser(email), &e); st {
		case 201:
		case 503:
			if e.StatusCode != 503 || e.Error != "Service Unavailable" || e.Message == "" {
				t.Fatalf("on a full disk: %+v", e)
			}
			refused = email
		default:
			t.Fatalf("a write on a full disk: %d %+v, want 503", st, e)
		}
	}
	if refused == "" {
		t.Fatal("500 writes fitted on a full disk")
	}
	if st := s.call(t, "GET", "/api/v2/users-by-email?email=before@example.com", tok, nil, nil); st != 200 {
		t.Fatalf("a read on a full disk: %d", st)
	}
	if st := s.call(t, "GET", "/healthz", "", nil, nil); st != 200 {
		t.Fatalf("/healthz on a full disk: %d", st)
	}

	os.Remove(filepath.Join(dir, "filler"))
	if st := s.call(t, "POST", "/api/v2/users", tok, newUser(refused), nil); st != 201 {
		t.Fatalf("the same user once there is room: %d (a 409 would mean the failed write left a part behind)", st)
	}
}
