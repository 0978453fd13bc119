package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/secretbox"
)

// Option configures a DB at Open.
type Option func(*DB)

// WithSecretBox seals the secrets the store keeps (signing keys, Action
// secrets) with box. Without one the store writes them as given and opens
// only plain ones: what the package tests and the commands that never touch
// secrets run with; `usher serve` always has a box, and seals whatever is
// still plain when it starts (SealPlaintext).
func WithSecretBox(box *secretbox.Box) Option {
	return func(db *DB) { db.box = box }
}

// The labels a secret is sealed for: where it lives, so that a sealed value
// copied into another row or column does not open there.
func signingKeyLabel(kid string) string { return "signing_keys/" + kid }

func actionSecretLabel(actionID, versionID, name string) string {
	return "action_secrets/" + actionID + "/" + versionID + "/" + name
}

func bindingSecretLabel(bindingID, name string) string {
	return "action_bindings/" + bindingID + "/" + name
}

// seal seals v for label with the store's box, if it has one.
func (q *queries) seal(v, label string) (string, error) {
	if q.db.box == nil {
		return v, nil
	}
	s, err := q.db.box.Seal(v, label)
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	return s, nil
}

// open opens a value sealed for label; plain values come back as they are.
func (q *queries) open(v, label string) (string, error) {
	p, err := q.db.box.Open(v, label)
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	return p, nil
}

// keyCheckSetting holds a known text sealed with the key the database's
// secrets are sealed with: a wrong key is told at start, before anything
// tries to open a secret with it.
const (
	keyCheckSetting = "secret_key_check"
	keyCheckText    = "usher secret key check"
)

// ErrWrongSecretKey is CheckSecretKey's answer for a key that is not the one
// the database's secrets were sealed with.
var ErrWrongSecretKey = errors.New("the secret key is not the one this database's secrets were sealed with")

// SealedWithAKey reports whether secrets were sealed in this database before
// (with some key): then a new key cannot be made up for it.
func (db *DB) SealedWithAKey(ctx context.Context) (bool, error) {
	_, err := db.Setting(ctx, keyCheckSetting)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("read the secret key check: %w", err)
}

// CheckSecretKey makes sure the store's box holds the database's key: on the
// first start with a key it records a check sealed with it; after that the
// check must open (ErrWrongSecretKey otherwise). Instances starting together
// with different keys: the first one's check stays, the others fail.
func (db *DB) CheckSecretKey(ctx context.Context) error {
	if db.box == nil {
		return secretbox.ErrNoKey
	}
	sealed, err := db.box.Seal(keyCheckText, keyCheckSetting)
	if err != nil {
		return err
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		keyCheckSetting, sealed); err != nil {
		return fmt.Errorf("store the secret key check: %w", translate(err))
	}
	var stored string
	if err := db.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, keyCheckSetting).Scan(&stored); err != nil {
		return fmt.Errorf("read the secret key check: %w", translate(err))
	}
	if got, err := db.box.Open(stored, keyCheckSetting); err != nil || got != keyCheckText {
		return ErrWrongSecretKey
	}
	return nil
}

// affected is how many rows a statement changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// SealPlaintext seals the secrets a database written before encryption (or
// by a store without a box) keeps in plain text, and returns how many it
// sealed. Each row is replaced only if it still holds what was read, so
// that it never undoes a change another instance made meanwhile.
func (db *DB) SealPlaintext(ctx context.Context) (int, error) {
	if db.box == nil {
		return 0, secretbox.ErrNoKey
	}
	q := db.queries
	n := 0
	type keyRow struct{ kid, pem string }
	keys, err := list(ctx, q.w, func(row rowScanner) (keyRow, error) {
		var k keyRow
		return k, row.Scan(&k.kid, &k.pem)
	}, `SELECT kid, private_key FROM signing_keys`)
	if err != nil {
		return n, fmt.Errorf("seal signing keys: %w", err)
	}
	for _, k := range keys {
		if k.pem == "" || secretbox.IsSealed(k.pem) {
			continue
		}
		sealed, err := q.seal(k.pem, signingKeyLabel(k.kid))
		if err != nil {
			return n, err
		}
		c, err := affected(q.w.ExecContext(ctx, `UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3`, sealed, k.kid, k.pem))
		if err != nil {
			return n, fmt.Errorf("seal signing key: %w", err)
		}
		n += c
	}

	type secretRow struct{ action, version, name, value string }
	secrets, err := list(ctx, q.w, func(row rowScanner) (secretRow, error) {
		var s secretRow
		return s, row.Scan(&s.action, &s.version, &s.name, &s.value)
	}, `SELECT action_id, version_id, name, value FROM action_secrets`)
	if err != nil {
		return n, fmt.Errorf("seal action secrets: %w", err)
	}
	for _, s := range secrets {
		if secretbox.IsSealed(s.value) {
			continue
		}
		sealed, err := q.seal(s.value, actionSecretLabel(s.action, s.version, s.name))
		if err != nil {
			return n, err
		}
		c, err := affected(q.w.ExecContext(ctx, `UPDATE action_secrets SET value = $1 WHERE action_id = $2 AND version_id = $3 AND name = $4 AND value = $5`,
			sealed, s.action, s.version, s.name, s.value))
		if err != nil {
			return n, fmt.Errorf("seal action secret: %w", err)
		}
		n += c
	}

	type bindingRow struct{ id, secrets string }
	bindings, err := list(ctx, q.w, func(row rowScanner) (bindingRow, error) {
		var b bindingRow
		return b, row.Scan(&b.id, &b.secrets)
	}, `SELECT id, secrets FROM action_bindings`)
	if err != nil {
		return n, fmt.Errorf("seal binding secrets: %w", err)
	}
	for _, b := range bindings {
		var stored []storedSecret
		if err := json.Unmarshal([]byte(b.secrets), &stored); err != nil {
			return n, fmt.Errorf("binding %s secrets: %w", b.id, err)
		}
		plain := 0
		for i, s := range stored {
			if secretbox.IsSealed(s.Value) {
				continue
			}
			if stored[i].Value, err = q.seal(s.Value, bindingSecretLabel(b.id, s.Name)); err != nil {
				return n, err
			}
			plain++
		}
		if plain == 0 {
			continue
		}
		doc, err := jsonText(stored)
		if err != nil {
			return n, err
		}
		c, err := affected(q.w.ExecContext(ctx, `UPDATE action_bindings SET secrets = $1 WHERE id = $2 AND secrets = $3`, doc, b.id, b.secrets))
		if err != nil {
			return n, fmt.Errorf("seal binding secrets: %w", err)
		}
		n += c * plain
	}
	return n, nil
}
