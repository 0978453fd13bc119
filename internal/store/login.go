package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/usherid/usher/internal/identity"
)

func (q *queries) LoginFailures(ctx context.Context, userID, ip string) (int, error) {
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count FROM login_failures WHERE user_id = $1 AND ip = $2`, userID, ip).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, translate(err)
}

func (q *queries) RecordLoginFailure(ctx context.Context, userID, ip string, now time.Time, blockAt int) (int, error) {
	var n int
	err := q.w.QueryRowContext(ctx, `INSERT INTO login_failures (user_id, ip, count, last_at) VALUES ($1, $2, 1, $3)
		ON CONFLICT (user_id, ip) DO UPDATE SET count = login_failures.count + 1, last_at = excluded.last_at
		RETURNING count`, userID, ip, millis(now)).Scan(&n)
	if err != nil {
		return 0, translate(err)
	}
	if n == blockAt {
		_, err = q.w.ExecContext(ctx, `UPDATE login_failures SET blocked_at = $1 WHERE user_id = $2 AND ip = $3`, millis(now), userID, ip)
	}
	return n, translate(err)
}

func (q *queries) ClearLoginFailures(ctx context.Context, userID, ip string) error {
	_, err := q.w.ExecContext(ctx, `DELETE FROM login_failures WHERE user_id = $1 AND ($2 = '' OR ip = $2)`, userID, ip)
	return translate(err)
}

func (q *queries) LoginBlocks(ctx context.Context, userID string, blockAt int) ([]identity.LoginBlock, error) {
	return list(ctx, q.r, func(row rowScanner) (identity.LoginBlock, error) {
		var b identity.LoginBlock
		var at sql.NullInt64
		err := row.Scan(&b.UserID, &b.IP, &at)
		b.BlockedAt = fromNullMillis(at)
		return b, err
	}, `SELECT user_id, ip, blocked_at FROM login_failures WHERE user_id = $1 AND count >= $2 ORDER BY ip`, userID, blockAt)
}

// RevokeLogins ends a user's browser sessions and removes their authorization
// codes and refresh tokens.
func (q *queries) RevokeLogins(ctx context.Context, userID string) error {
	if _, err := q.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return translate(err)
	}
	_, err := q.w.ExecContext(ctx, `DELETE FROM grants WHERE user_id = $1`, userID)
	return translate(err)
}
