package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/usherid/usher/internal/identity"
)

func (q *queries) CreateTicket(ctx context.Context, t identity.Ticket) error {
	return q.insert(ctx, ticketsTable, [][]any{ticketRow(t)})
}

func (q *queries) Ticket(ctx context.Context, id string) (identity.Ticket, error) {
	var t identity.Ticket
	var created, expires int64
	var used, revoked sql.NullInt64
	err := q.r.QueryRowContext(ctx, `SELECT id, kind, user_id, client_id, result_url, mark_email_verified, include_email,
		purpose, created_at, expires_at, used_at, revoked_at FROM tickets WHERE id = $1`+q.forUpdate(), id).Scan(
		&t.ID, &t.Kind, &t.UserID, &t.ClientID, &t.ResultURL, &t.MarkEmailVerified, &t.IncludeEmail, &t.Purpose,
		&created, &expires, &used, &revoked)
	if err != nil {
		return t, translate(err)
	}
	t.CreatedAt, t.ExpiresAt = fromMillis(created), fromMillis(expires)
	t.UsedAt, t.RevokedAt = fromNullMillis(used), fromNullMillis(revoked)
	return t, nil
}

func (q *queries) UseTicket(ctx context.Context, id string, now time.Time) error {
	return mustAffect(q.w.ExecContext(ctx, `UPDATE tickets SET used_at = $1
		WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1`, millis(now), id))
}

func (q *queries) RevokeTickets(ctx context.Context, userID, kind string, now time.Time) error {
	_, err := q.w.ExecContext(ctx, `UPDATE tickets SET revoked_at = $1
		WHERE user_id = $2 AND ($3 = '' OR kind = $3) AND used_at IS NULL AND revoked_at IS NULL`, millis(now), userID, kind)
	return translate(err)
}
