package imports_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/store"
	"github.com/usherid/usher/internal/store/storetest"
)

// uploads is a store that remembers which jobs were made and dropped, to
// tell whether a refused upload left anything behind.
type uploads struct {
	*store.DB
	created, deleted []string
}

func (u *uploads) CreateJob(ctx context.Context, j identity.Job) error {
	u.created = append(u.created, j.ID)
	return u.DB.CreateJob(ctx, j)
}

func (u *uploads) DeleteJob(ctx context.Context, id string) error {
	u.deleted = append(u.deleted, id)
	return u.DB.DeleteJob(ctx, id)
}

// left are the uploads made and not dropped.
func (u *uploads) left() []string {
	var ids []string
	for _, id := range u.created {
		if !slices.Contains(u.deleted, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// tenant is a migrated SQLite tenant with its default database connection,
// and the id of that connection.
func tenant(t *testing.T) (*imports.Service, *uploads, string) {
	t.Helper()
	db, ids, conn := bootstrapped(t)
	st := &uploads{DB: db}
	return imports.NewService(st, ids, imports.Options{}), st, conn
}

// bootstrapped is a new SQLite database with its tenant made, the identity
// service over it and the id of its database connection.
func bootstrapped(t *testing.T) (*store.DB, *identity.Service, string) {
	t.Helper()
	db := storetest.SQLite(t)
	ids := identity.NewService(db, identity.Options{PublicURL: "http://usher.test"})
	if _, err := ids.Bootstrap(t.Context(), identity.Bootstrap{}); err != nil {
		t.Fatal(err)
	}
	conns, err := ids.Connections(t.Context())
	if err != nil || len(conns) != 1 {
		t.Fatalf("connections: %v %v", conns, err)
	}
	return db, ids, conns[0].ID
}

// form sends the parts in order: a part named "users" is the file, any
// other sets a field of the request.
func form(parts ...[2]string) imports.Form {
	return func(r *imports.Request, upload func(io.Reader) error) error {
		for _, p := range parts {
			switch name, value := p[0], p[1]; name {
			case "users":
				if err := upload(strings.NewReader(value)); err != nil {
					return err
				}
			case "connection_id":
				r.ConnectionID = value
			case "format":
				r.Options.Format = value
			case "fail":
				return errs.Invalid("invalid_body", "%s", value)
			}
		}
		return nil
	}
}

// TestStart: an upload becomes a pending job whatever the order of its
// parts, and a refused one leaves nothing behind.
func TestStart(t *testing.T) {
	// Rows far enough apart that the file spans three stored chunks.
	gap := strings.Repeat(" ", 900<<10)
	big := "[" + gap + `{"email":"a@example.com"},` + gap + `{"email":"b@example.com"},` + gap + `{"email":"c@example.com"}]`
	for _, tc := range []struct {
		name  string
		parts func(conn string) [][2]string
		err   string // "" for a job
		rows  int64  // the job's rows, once run
	}{
		{"fields first", func(conn string) [][2]string {
			return [][2]string{{"connection_id", conn}, {"users", `[{"email":"a@example.com"}]`}}
		}, "", 1},
		{"file first, format after", func(conn string) [][2]string {
			return [][2]string{{"users", "email\na@example.com\nb@example.com\n"}, {"connection_id", conn}, {"format", "csv"}}
		}, "", 2},
		{"a file of several chunks", func(conn string) [][2]string {
			return [][2]string{{"connection_id", conn}, {"users", big}}
		}, "", 3},
		{"no file", func(conn string) [][2]string { return [][2]string{{"connection_id", conn}} },
			"Must provide 'users' file as multipart part.", 0},
		{"empty file", func(conn string) [][2]string { return [][2]string{{"connection_id", conn}, {"users", ""}} },
			"Users file must not be empty.", 0},
		{"two files", func(conn string) [][2]string {
			return [][2]string{{"connection_id", conn}, {"users", "[]"}, {"users", "[]"}}
		}, "Only one users file may be sent.", 0},
		{"no connection", func(string) [][2]string { return [][2]string{{"users", "[]"}} },
			"Must provide 'connection_id' as multipart part.", 0},
		{"the file's start is not its format", func(conn string) [][2]string {
			return [][2]string{{"users", `{"email":"a@example.com"}`}, {"connection_id", conn}}
		}, "The users file must be a JSON array of user objects.", 0},
		{"a field refused after the file", func(conn string) [][2]string {
			return [][2]string{{"connection_id", conn}, {"users", "[]"}, {"fail", "upsert must be true or false."}}
		}, "upsert must be true or false.", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			imp, st, conn := tenant(t)
			job, err := imp.Start(ctx, "", form(tc.parts(conn)...))
			if tc.err != "" {
				if errs.KindOf(err) != errs.KindInvalid || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if left := st.left(); len(left) != 0 {
					t.Fatalf("uploads left behind: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if job.Status != identity.JobPending || !job.StoredFile || job.FileBytes == 0 {
				t.Fatalf("job %+v", job)
			}
			if ran, err := imp.RunPending(ctx); !ran || err != nil {
				t.Fatalf("run: %v %v", ran, err)
			}
			if job, err = imp.Job(ctx, job.ID); err != nil || job.Status != identity.JobCompleted || job.Summary.Inserted != tc.rows {
				t.Fatalf("run job: %+v %v, want %d inserted", job, err, tc.rows)
			}
		})
	}
}

// TestStartIdempotent: a request with the key of an earlier one answers
// that job without reading anything.
func TestStartIdempotent(t *testing.T) {
	ctx := t.Context()
	imp, st, conn := tenant(t)
	first, err := imp.Start(ctx, "key-1", form([2]string{"connection_id", conn}, [2]string{"users", "[]"}))
	if err != nil {
		t.Fatal(err)
	}
	again, err := imp.Start(ctx, "key-1", func(*imports.Request, func(io.Reader) error) error {
		return errors.New("the form was read")
	})
	if err != nil || again.ID != first.ID || again.IdempotencyKey != "key-1" {
		t.Fatalf("again: %+v %v, want job %s", again, err, first.ID)
	}
	if len(st.created) != 1 {
		t.Fatalf("%d uploads, want 1", len(st.created))
	}
}

// breakOff is a connection that breaks off: its read cancels the request's
// context, as net/http does, and fails.
type breakOff struct {
	cancel context.CancelFunc
	err    error
}

func (b breakOff) Read([]byte) (int, error) {
	b.cancel()
	return 0, b.err
}

// TestStartBrokenOff: an upload that breaks off after a stored chunk and
// half another fails with the connection's error, not with the context
// that went with it, and leaves nothing behind.
func TestStartBrokenOff(t *testing.T) {
	imp, st, conn := tenant(t)
	ctx, cancel := context.WithCancel(t.Context())
	broken := errors.New("the connection broke off")
	file := io.MultiReader(strings.NewReader("["+strings.Repeat(" ", 3<<19)), breakOff{cancel, broken})
	_, err := imp.Start(ctx, "", func(r *imports.Request, upload func(io.Reader) error) error {
		r.ConnectionID = conn
		return upload(file)
	})
	if !errors.Is(err, broken) {
		t.Fatalf("error %v, want the connection's", err)
	}
	if left := st.left(); len(st.created) != 1 || len(left) != 0 {
		t.Fatalf("%d uploads made, %v left behind; want 1 made and dropped", len(st.created), left)
	}
}
