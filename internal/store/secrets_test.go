package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/secretbox"
	"github.com/usherid/usher/internal/store"
)

// sealEngines runs fn with a new database on SQLite and, when configured, on
// PostgreSQL; fn opens it as often as it likes, with the options it wants.
func sealEngines(t *testing.T, fn func(t *testing.T, dsn string, raw *sql.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "usher.db")
		raw, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		fn(t, "sqlite:"+path, raw)
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("USHER_TEST_POSTGRES_DSN")
		if base == "" {
			t.Skip("USHER_TEST_POSTGRES_DSN is not set")
		}
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		schema := "usher_seal_" + randomHex(t)
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		defer admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		u, _ := url.Parse(base)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		raw, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		fn(t, u.String(), raw)
	})
}

func testBox(t *testing.T) *secretbox.Box {
	t.Helper()
	text, _ := secretbox.NewKey()
	key, _ := secretbox.ParseKey(text)
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openDB(t *testing.T, dsn string, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// rawText is every secret column as the database holds it.
func rawText(t *testing.T, raw *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{`SELECT private_key FROM signing_keys`, `SELECT value FROM action_secrets`, `SELECT secrets FROM action_bindings`} {
		rows, err := raw.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			rows.Scan(&v)
			b.WriteString(v + "\n")
		}
		rows.Close()
	}
	return b.String()
}

// fillSecrets stores one of each secret the store seals, through its API.
func fillSecrets(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := t.Context()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	if err := db.AddSigningKey(ctx, oauth.StoredKey{KID: "k1", PrivateKeyPEM: "PEM-k1", CertPEM: "cert", Role: oauth.RoleCurrent, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	a := actions.Action{ID: "act1", Name: "one", Trigger: actions.TriggerRef{ID: "post-login", Version: "v3"}, Code: "x", Runtime: "node22",
		Dependencies: []actions.Dependency{}, Status: actions.StatusBuilt, BuiltAt: now, CreatedAt: now, UpdatedAt: now,
		Secrets: []actions.Secret{{Name: "API_KEY", Value: "draft-secret", UpdatedAt: now}}}
	if err := db.CreateAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeployAction(ctx, "act1", "ver1", now); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceBindings(ctx, "post-login", []actions.Binding{{ID: "bind1", TriggerID: "post-login", ActionID: "act1", DisplayName: "b",
		Secrets: []actions.Secret{{Name: "BOUND", Value: "binding-secret", UpdatedAt: now}}, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
}

var plainSecrets = []string{"PEM-k1", "draft-secret", "binding-secret"}

// wantSecretsRead checks every secret reads back opened.
func wantSecretsRead(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := t.Context()
	keys, err := db.SigningKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].PrivateKeyPEM != "PEM-k1" {
		t.Fatalf("SigningKeys = %+v, %v", keys, err)
	}
	a, err := db.Action(ctx, "act1")
	if err != nil || len(a.Secrets) != 1 || a.Secrets[0].Value != "draft-secret" || a.Deployed == nil || a.Deployed.Secrets[0].Value != "draft-secret" {
		t.Fatalf("Action = %+v, %v", a, err)
	}
	ds, err := db.DeployedBindings(ctx, "post-login")
	if err != nil || len(ds) != 1 || ds[0].Binding.Secrets[0].Value != "binding-secret" || ds[0].Secrets[0].Value != "draft-secret" {
		t.Fatalf("DeployedBindings = %+v, %v", ds, err)
	}
	bs, err := db.Bindings(ctx, "post-login")
	if err != nil || len(bs) != 1 || bs[0].Secrets[0].Value != "binding-secret" {
		t.Fatalf("Bindings = %+v, %v", bs, err)
	}
}

func TestSecretsSealedAtRest(t *testing.T) {
	sealEngines(t, func(t *testing.T, dsn string, raw *sql.DB) {
		box := testBox(t)
		db := openDB(t, dsn, store.WithSecretBox(box))
		if err := db.CheckSecretKey(t.Context()); err != nil {
			t.Fatal(err)
		}
		fillSecrets(t, db)
		text := rawText(t, raw)
		for _, s := range plainSecrets {
			if strings.Contains(text, s) {
				t.Errorf("%q rests in clear", s)
			}
		}
		wantSecretsRead(t, db)

		// The same database with another key: refused at the check, and
		// every secret refuses to open rather than reading as garbage.
		other := openDB(t, dsn, store.WithSecretBox(testBox(t)))
		if err := other.CheckSecretKey(t.Context()); !errors.Is(err, store.ErrWrongSecretKey) {
			t.Fatalf("CheckSecretKey with another key: %v", err)
		}
		if _, err := other.SigningKeys(t.Context()); !errors.Is(err, secretbox.ErrWrongKey) {
			t.Fatalf("SigningKeys with another key: %v", err)
		}
		// Without a key, sealed secrets do not open either.
		none := openDB(t, dsn)
		if _, err := none.Action(t.Context(), "act1"); !errors.Is(err, secretbox.ErrNoKey) {
			t.Fatalf("Action without a key: %v", err)
		}
		if sealed, err := none.SealedWithAKey(t.Context()); err != nil || !sealed {
			t.Fatalf("SealedWithAKey = %v, %v", sealed, err)
		}

		// A sealed value moved to another row does not open there.
		if _, err := raw.Exec(`UPDATE action_secrets SET value = (SELECT private_key FROM signing_keys WHERE kid = 'k1')`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Action(t.Context(), "act1"); !errors.Is(err, secretbox.ErrWrongKey) {
			t.Fatalf("a signing key copied into an Action secret: %v", err)
		}
	})
}

func TestSealPlaintext(t *testing.T) {
	sealEngines(t, func(t *testing.T, dsn string, raw *sql.DB) {
		// Written as an older Usher did: in clear.
		fillSecrets(t, openDB(t, dsn))
		if sealed, err := openDB(t, dsn).SealedWithAKey(t.Context()); err != nil || sealed {
			t.Fatalf("SealedWithAKey on a plain database = %v, %v", sealed, err)
		}
		db := openDB(t, dsn, store.WithSecretBox(testBox(t)))
		wantSecretsRead(t, db) // plain values read as they are
		n, err := db.SealPlaintext(t.Context())
		if err != nil || n != 4 { // the key, the draft's and the version's secret, the binding's
			t.Fatalf("SealPlaintext = %d, %v; want 4", n, err)
		}
		text := rawText(t, raw)
		for _, s := range plainSecrets {
			if strings.Contains(text, s) {
				t.Errorf("%q still rests in clear", s)
			}
		}
		wantSecretsRead(t, db)
		if n, err := db.SealPlaintext(t.Context()); err != nil || n != 0 {
			t.Fatalf("SealPlaintext again = %d, %v; want 0", n, err)
		}
	})
}

// Two instances sealing one plain database at once: each value is sealed
// once, and both can read it.
func TestSealPlaintextConcurrently(t *testing.T) {
	sealEngines(t, func(t *testing.T, dsn string, raw *sql.DB) {
		fillSecrets(t, openDB(t, dsn))
		box := testBox(t)
		a, b := openDB(t, dsn, store.WithSecretBox(box)), openDB(t, dsn, store.WithSecretBox(box))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		counts := make(chan int, 2)
		for _, db := range []*store.DB{a, b} {
			go func() {
				n, err := db.SealPlaintext(ctx)
				if err != nil {
					t.Error(err)
				}
				counts <- n
			}()
		}
		if n := <-counts + <-counts; n != 4 {
			t.Fatalf("sealed %d values in all; want each of the 4 once", n)
		}
		wantSecretsRead(t, a)
		wantSecretsRead(t, b)
	})
}
