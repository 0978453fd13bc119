package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// openGroupTest opens a migrated SQLite database for the group commit's own tests.
func openGroupTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "usher.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// putting is a member that writes the setting name and then returns err.
func putting(ctx context.Context, name string, err error) *member {
	return &member{ctx: ctx, done: make(chan struct{}), fn: func(st *queries) error {
		if err := st.PutSetting(ctx, name, "v"); err != nil {
			return err
		}
		return err
	}}
}

// TestGroupCommitMembers commits one group whose members fail in different
// ways: each is told its own result, and only the successful ones' work lands.
func TestGroupCommitMembers(t *testing.T) {
	db := openGroupTest(t)
	ctx := t.Context()
	errOwn := errors.New("own failure")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	group := []*member{
		putting(ctx, "first", nil),
		putting(ctx, "fails", errOwn),
		putting(cancelled, "cancelled", nil),
		{ctx: ctx, done: make(chan struct{}), fn: func(st *queries) error {
			st.PutSetting(ctx, "panics", "v")
			panic("boom")
		}},
		putting(ctx, "last", nil),
	}
	db.group.commit(group)
	wants := []struct {
		name   string
		err    error
		landed bool
	}{{"first", nil, true}, {"fails", errOwn, false}, {"cancelled", context.Canceled, false}, {"panics", errPanicked, false}, {"last", nil, true}}
	for i, want := range wants {
		m := group[i]
		select {
		case <-m.done:
		default:
			t.Fatalf("member %s was not told its result", want.name)
		}
		if !errors.Is(m.err, want.err) || (want.err == nil) != (m.err == nil) {
			t.Errorf("member %s: %v; want %v", want.name, m.err, want.err)
		}
		if _, err := db.Setting(ctx, want.name); (err == nil) != want.landed {
			t.Errorf("member %s: its setting read %v; landed should be %v", want.name, err, want.landed)
		}
	}
	if group[3].panicked != "boom" {
		t.Errorf("panicking member: panicked = %v; want boom", group[3].panicked)
	}
}

// TestGroupCommitLostTransaction makes one member's statement roll back the
// whole transaction, as an I/O error would: the members before it are told
// their work is lost, and those after it still commit.
func TestGroupCommitLostTransaction(t *testing.T) {
	db := openGroupTest(t)
	ctx := t.Context()
	if _, err := db.write.ExecContext(ctx, `CREATE TRIGGER lose_all BEFORE INSERT ON settings WHEN NEW.name = 'lose'
		BEGIN SELECT RAISE(ROLLBACK, 'lost on purpose'); END`); err != nil {
		t.Fatal(err)
	}
	group := []*member{putting(ctx, "before", nil), putting(ctx, "lose", nil), putting(ctx, "after", nil)}
	db.group.commit(group)
	for i, landed := range []bool{false, false, true} {
		m := group[i]
		if (m.err == nil) != landed {
			t.Errorf("member %d: %v; want landed %v", i, m.err, landed)
		}
		if _, err := db.Setting(ctx, []string{"before", "lose", "after"}[i]); (err == nil) != landed {
			t.Errorf("member %d: its setting read %v; want landed %v", i, err, landed)
		}
	}
}
