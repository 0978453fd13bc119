package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// Allow takes one request from key's budget of burst requests at once,
// refilled by one every every, for every instance on the database together,
// and reports whether there was one. One statement decides, so two
// instances never both take the last one: the row holds when the budget
// is whole again, and a request is allowed while that is at most
// (burst-1)×every away. The row is named by key's SHA-256: a key holds what
// a caller typed (an email not yet checked), which must neither grow the
// table by its length nor be kept readable.
func (q *queries) Allow(ctx context.Context, key string, now time.Time, every time.Duration, burst int) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	key = hex.EncodeToString(sum[:])
	step, slack := every.Milliseconds(), every.Milliseconds()*int64(burst-1)
	res, err := q.w.ExecContext(ctx, `INSERT INTO rate_limits (key, full_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET full_at = CASE WHEN rate_limits.full_at < $3 THEN $2 ELSE rate_limits.full_at + $4 END
		WHERE rate_limits.full_at - $3 <= $5`, key, millis(now)+step, millis(now), step, slack)
	if err != nil {
		return false, translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	// Keys whose budget is whole again say nothing: now and then, drop them.
	if rand.IntN(100) == 0 {
		if _, err := q.w.ExecContext(ctx, `DELETE FROM rate_limits WHERE full_at < $1`, millis(now)); err != nil {
			return false, translate(err)
		}
	}
	return n == 1, nil
}
