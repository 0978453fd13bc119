package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/oauth"
)

// Signing keys: their private keys rest sealed (see WithSecretBox); a
// partial unique index keeps one current and one next key at most.

const signingKeyColumns = `kid, private_key, cert, role, created_at, current_since, current_until, revoked_at`

func (q *queries) scanSigningKey(row rowScanner) (oauth.StoredKey, error) {
	var k oauth.StoredKey
	var role string
	var created int64
	var since, until, revoked sql.NullInt64
	if err := row.Scan(&k.KID, &k.PrivateKeyPEM, &k.CertPEM, &role, &created, &since, &until, &revoked); err != nil {
		return k, translate(err)
	}
	k.Role = oauth.KeyRole(role)
	k.CreatedAt, k.CurrentSince, k.CurrentUntil, k.RevokedAt = fromMillis(created), fromNullMillis(since), fromNullMillis(until), fromNullMillis(revoked)
	var err error
	if k.PrivateKeyPEM != "" {
		k.PrivateKeyPEM, err = q.open(k.PrivateKeyPEM, signingKeyLabel(k.KID))
	}
	return k, err
}

// SigningKeys returns every signing key, revoked ones included, oldest first.
func (q *queries) SigningKeys(ctx context.Context) ([]oauth.StoredKey, error) {
	return list(ctx, q.r, q.scanSigningKey, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at, kid`)
}

// AddSigningKey stores a new signing key; errs.ErrDuplicate when its kid
// or its role (current, next) is taken.
func (q *queries) AddSigningKey(ctx context.Context, k oauth.StoredKey) error {
	sealed, err := q.seal(k.PrivateKeyPEM, signingKeyLabel(k.KID))
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.KID, sealed, k.CertPEM, string(k.Role), millis(k.CreatedAt), nullMillis(k.CurrentSince), nullMillis(k.CurrentUntil), nullMillis(k.RevokedAt))
	return translate(err)
}

// RotateSigningKeys makes current previous and next current, and adds
// newNext, in one transaction; oauth.ErrKeysChanged when current or next no
// longer holds its role (another rotation went first).
func (q *queries) RotateSigningKeys(ctx context.Context, current, next string, newNext oauth.StoredKey, now time.Time) error {
	return q.atomic(ctx, func(tx *queries) error {
		if err := changed(tx.w.ExecContext(ctx, `UPDATE signing_keys SET role = $1, current_until = $2 WHERE kid = $3 AND role = $4`,
			string(oauth.RolePrevious), millis(now), current, string(oauth.RoleCurrent))); err != nil {
			return err
		}
		if err := changed(tx.w.ExecContext(ctx, `UPDATE signing_keys SET role = $1, current_since = $2 WHERE kid = $3 AND role = $4`,
			string(oauth.RoleCurrent), millis(now), next, string(oauth.RoleNext))); err != nil {
			return err
		}
		if err := tx.AddSigningKey(ctx, newNext); err != nil {
			return fmt.Errorf("add the next signing key: %w", err)
		}
		return nil
	})
}

// RevokeSigningKey revokes a previous key and forgets its private key;
// oauth.ErrKeysChanged when kid is not a previous key.
func (q *queries) RevokeSigningKey(ctx context.Context, kid string, now time.Time) error {
	return changed(q.w.ExecContext(ctx, `UPDATE signing_keys SET role = $1, revoked_at = $2, private_key = '' WHERE kid = $3 AND role = $4`,
		string(oauth.RoleRevoked), millis(now), kid, string(oauth.RolePrevious)))
}

// SetSigningKeyCert records the certificate of a key stored without one.
func (q *queries) SetSigningKeyCert(ctx context.Context, kid, cert string) error {
	_, err := q.w.ExecContext(ctx, `UPDATE signing_keys SET cert = $1 WHERE kid = $2 AND cert = ''`, cert, kid)
	return translate(err)
}

// changed turns "no row changed" into oauth.ErrKeysChanged.
func changed(res sql.Result, err error) error {
	err = mustAffect(res, err)
	if errors.Is(err, errs.ErrNotFound) {
		return oauth.ErrKeysChanged
	}
	return err
}
