package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/store"
	"github.com/usherid/usher/internal/store/storetest"
)

// TestSQLite runs the store suite on a new SQLite file for each subtest.
func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB {
		db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "usher.db"))
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return db
	})
}

// TestPostgres runs the store suite in a new PostgreSQL schema per subtest when USHER_TEST_POSTGRES_DSN is set.
func TestPostgres(t *testing.T) {
	dsn := os.Getenv("USHER_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set USHER_TEST_POSTGRES_DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the store suite on PostgreSQL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(t.Context()); err != nil {
		t.Fatalf("USHER_TEST_POSTGRES_DSN: %v", err)
	}
	storetest.Run(t, func(t *testing.T) *store.DB {
		schema := "usher_test_" + randomHex(t)
		if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("USHER_TEST_POSTGRES_DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db, err := store.Open(t.Context(), u.String())
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return db
	})
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestUnexpectedErrorsNameTheOperation: a database failure that ends as a
// 500 says which store method failed, and still is what it was.
func TestUnexpectedErrorsNameTheOperation(t *testing.T) {
	db := storetest.SQLite(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := db.Job(ctx, "job_x")
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "store Job: ") {
		t.Fatalf("a cancelled read: %v", err)
	}
	if _, err := db.Job(t.Context(), "job_x"); !errors.Is(err, errs.ErrNotFound) || err.Error() != errs.ErrNotFound.Error() {
		t.Fatalf("a missing row: %v", err)
	}
}
