package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// ReserveLoginAttempt counts an attempt in one statement, so that
// concurrent logins of one pair each see their own count: the upsert takes
// the row's lock on PostgreSQL and the write lock on SQLite, and its WHERE
// leaves a pair already at the limit as it is (no row comes back). limit
// is above 1: a first attempt never blocks.
func (q *queries) ReserveLoginAttempt(ctx context.Context, userID, ip string, now time.Time, limit int) (int, error) {
	var n int
	err := q.w.QueryRowContext(ctx, `INSERT INTO login_failures (user_id, ip, count, last_at, blocked_at)
		VALUES ($1, $2, 1, $3, NULL)
		ON CONFLICT (user_id, ip) DO UPDATE SET count = login_failures.count + 1, last_at = excluded.last_at,
			blocked_at = CASE WHEN login_failures.count + 1 >= $4 THEN excluded.last_at ELSE login_failures.blocked_at END
		WHERE login_failures.count < $4
		RETURNING count`, userID, ip, millis(now), limit).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, translate(err)
}

func (q *queries) ReleaseLoginAttempt(ctx context.Context, userID, ip string, limit int) error {
	_, err := q.w.ExecContext(ctx, `UPDATE login_failures SET count = count - 1,
		blocked_at = CASE WHEN count - 1 >= $3 THEN blocked_at END
		WHERE user_id = $1 AND ip = $2 AND count > 0`, userID, ip, limit)
	return translate(err)
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
