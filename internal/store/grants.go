package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/usherid/usher/internal/oauth"
)

// CreateGrant stores an authorization code or refresh token.
func (q *queries) CreateGrant(ctx context.Context, g oauth.Grant) error {
	details, err := jsonText(g.Details)
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO grants (id, kind, client_id, user_id, details, created_at, expires_at, family)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, g.ID, g.Kind, g.ClientID, g.UserID, details, millis(g.CreatedAt), millis(g.ExpiresAt), g.Family)
	return translate(err)
}

// RotateGrant uses a refresh token and stores its successor at once.
func (q *queries) RotateGrant(ctx context.Context, id string, now time.Time, next oauth.Grant) error {
	return q.atomic(ctx, func(tx *queries) error {
		if err := tx.UseGrant(ctx, id, now); err != nil {
			return err
		}
		return tx.CreateGrant(ctx, next)
	})
}

// ExtendGrant moves a grant's expiry.
func (q *queries) ExtendGrant(ctx context.Context, id string, expires time.Time) error {
	return mustAffect(q.w.ExecContext(ctx, `UPDATE grants SET expires_at = $1 WHERE id = $2`, millis(expires), id))
}

// DeleteGrantFamily removes every refresh token of a line.
func (q *queries) DeleteGrantFamily(ctx context.Context, family string) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM grants WHERE family = $1 AND family <> ''`, family)
	return translate(err)
}

// Grant returns a stored grant.
func (q *queries) Grant(ctx context.Context, id string) (oauth.Grant, error) {
	var g oauth.Grant
	var details string
	var created, expires int64
	var used sql.NullInt64
	err := q.r.QueryRowContext(ctx, `SELECT id, kind, client_id, user_id, details, created_at, expires_at, used_at, family
		FROM grants WHERE id = $1`, id).Scan(&g.ID, &g.Kind, &g.ClientID, &g.UserID, &details, &created, &expires, &used, &g.Family)
	if err != nil {
		return g, translate(err)
	}
	g.CreatedAt, g.ExpiresAt, g.UsedAt = fromMillis(created), fromMillis(expires), fromNullMillis(used)
	return g, json.Unmarshal([]byte(details), &g.Details)
}

// UseGrant marks a grant used, once.
func (q *queries) UseGrant(ctx context.Context, id string, now time.Time) error {
	return mustAffect(q.w.ExecContext(ctx, `UPDATE grants SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1`, millis(now), id))
}

// CreateSession stores a browser session.
func (q *queries) CreateSession(ctx context.Context, s oauth.Session) error {
	var stamp sql.NullInt64
	if s.PasswordStamp != nil {
		stamp = sql.NullInt64{Int64: *s.PasswordStamp, Valid: true}
	}
	_, err := q.w.ExecContext(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at, password_stamp) VALUES ($1, $2, $3, $4, $5)`,
		s.ID, s.UserID, millis(s.CreatedAt), millis(s.ExpiresAt), stamp)
	return translate(err)
}

// Session returns a browser session.
func (q *queries) Session(ctx context.Context, id string) (oauth.Session, error) {
	var s oauth.Session
	var created, expires int64
	var stamp sql.NullInt64
	err := q.r.QueryRowContext(ctx, `SELECT id, user_id, created_at, expires_at, password_stamp FROM sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.UserID, &created, &expires, &stamp)
	s.CreatedAt, s.ExpiresAt = fromMillis(created), fromMillis(expires)
	if stamp.Valid {
		s.PasswordStamp = &stamp.Int64
	}
	return s, translate(err)
}

// DeleteSession ends a browser session.
func (q *queries) DeleteSession(ctx context.Context, id string) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return translate(err)
}
