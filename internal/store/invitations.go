package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/identity"
)

const invitationColumns = `id, user_id, email, connection_id, client_id, inviter_name, result_url, ttl_ms, ticket_id,
	COALESCE(idempotency_key, ''), source, created_at, expires_at, accepted_at, revoked_at`

func scanInvitation(row rowScanner) (identity.Invitation, error) {
	var inv identity.Invitation
	var ttl, created, expires int64
	var accepted, revoked sql.NullInt64
	err := row.Scan(&inv.ID, &inv.UserID, &inv.Email, &inv.ConnectionID, &inv.ClientID, &inv.InviterName, &inv.ResultURL,
		&ttl, &inv.TicketID, &inv.IdempotencyKey, &inv.Source, &created, &expires, &accepted, &revoked)
	inv.TTL = time.Duration(ttl) * time.Millisecond
	inv.CreatedAt, inv.ExpiresAt = fromMillis(created), fromMillis(expires)
	inv.AcceptedAt, inv.RevokedAt = fromNullMillis(accepted), fromNullMillis(revoked)
	return inv, translate(err)
}

func (q *queries) CreateInvitation(ctx context.Context, inv identity.Invitation) error {
	return q.insert(ctx, invitationsTable, [][]any{invitationRow(inv)})
}

func (q *queries) Invitation(ctx context.Context, id string) (identity.Invitation, error) {
	inv, err := scanInvitation(q.r.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE id = $1`+q.forUpdate(), id))
	if err != nil {
		return inv, err
	}
	inv.Events, err = list(ctx, q.r, func(row rowScanner) (identity.InvitationEvent, error) {
		var e identity.InvitationEvent
		var at int64
		var status, reply sql.NullString
		err := row.Scan(&at, &e.Type, &e.MailID, &status, &reply)
		e.At, e.MailStatus, e.MailReply = fromMillis(at), status.String, reply.String
		return e, err
	}, `SELECT e.at, e.type, e.mail_id, m.status, m.last_reply FROM invitation_events e
		LEFT JOIN mails m ON m.id = e.mail_id WHERE e.invitation_id = $1 ORDER BY e.at, e.type`, id)
	return inv, err
}

func (q *queries) InvitationByIdempotencyKey(ctx context.Context, key string) (identity.Invitation, error) {
	var id string
	if err := q.r.QueryRowContext(ctx, `SELECT id FROM invitations WHERE idempotency_key = $1`, key).Scan(&id); err != nil {
		return identity.Invitation{}, translate(err)
	}
	return q.Invitation(ctx, id)
}

func (q *queries) Invitations(ctx context.Context, iq identity.InvitationQuery) ([]identity.Invitation, int, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	now := millis(iq.Now)
	switch iq.Status {
	case identity.InvitationAccepted:
		conds = append(conds, "accepted_at IS NOT NULL")
	case identity.InvitationRevoked:
		conds = append(conds, "accepted_at IS NULL AND revoked_at IS NOT NULL")
	case identity.InvitationExpired:
		conds = append(conds, "accepted_at IS NULL AND revoked_at IS NULL AND expires_at <= "+arg(now))
	case identity.InvitationPending:
		conds = append(conds, "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > "+arg(now))
	}
	if iq.Email != "" {
		conds = append(conds, "email = "+arg(strings.ToLower(iq.Email)))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	total := 0
	if iq.IncludeTotals {
		if err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM invitations`+where, args...).Scan(&total); err != nil {
			return nil, 0, translate(err)
		}
	}
	invs, err := list(ctx, q.r, scanInvitation, `SELECT `+invitationColumns+` FROM invitations`+where+
		` ORDER BY created_at DESC, id DESC LIMIT `+arg(iq.PerPage)+` OFFSET `+arg(iq.Page*iq.PerPage), args...)
	return invs, total, err
}

func (q *queries) UpdateInvitation(ctx context.Context, inv identity.Invitation) error {
	return mustAffect(q.w.ExecContext(ctx, `UPDATE invitations SET ticket_id = $1, expires_at = $2, revoked_at = $3, ttl_ms = $4
		WHERE id = $5`, inv.TicketID, millis(inv.ExpiresAt), nullMillis(inv.RevokedAt), inv.TTL.Milliseconds(), inv.ID))
}

func (q *queries) AcceptInvitation(ctx context.Context, ticketID string, now time.Time) (identity.Invitation, error) {
	inv, err := scanInvitation(q.w.QueryRowContext(ctx, `UPDATE invitations SET accepted_at = $1 WHERE ticket_id = $2 AND accepted_at IS NULL
		AND revoked_at IS NULL RETURNING `+invitationColumns, millis(now), ticketID))
	if err != nil {
		return inv, err // ErrNotFound: a link that was not an open invitation's
	}
	return inv, q.AddInvitationEvents(ctx, inv.ID, identity.InvitationEvent{At: now, Type: "accepted"})
}

func (q *queries) OpenInvitation(ctx context.Context, userID string) (identity.Invitation, error) {
	return scanInvitation(q.r.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE user_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`+q.forUpdate(), userID))
}

func (q *queries) LatestInvitations(ctx context.Context, userIDs []string) (map[string]identity.Invitation, error) {
	out := map[string]identity.Invitation{}
	for len(userIDs) > 0 {
		n := min(len(userIDs), 500)
		args := make([]any, n)
		marks := make([]string, n)
		for i, id := range userIDs[:n] {
			args[i], marks[i] = id, "$"+strconv.Itoa(i+1)
		}
		invs, err := list(ctx, q.r, scanInvitation, `SELECT `+invitationColumns+` FROM invitations
			WHERE user_id IN (`+strings.Join(marks, ", ")+`) ORDER BY created_at, id`, args...)
		if err != nil {
			return nil, err
		}
		for _, inv := range invs {
			out[inv.UserID] = inv // the newest comes last
		}
		userIDs = userIDs[n:]
	}
	return out, nil
}

func (q *queries) AddInvitationEvents(ctx context.Context, invitationID string, events ...identity.InvitationEvent) error {
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = []any{invitationID, millis(e.At), e.Type, e.MailID}
	}
	return q.insert(ctx, invitationEventsTable, rows)
}
