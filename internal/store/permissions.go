package store

import (
	"context"
	"time"

	"github.com/usherid/usher/internal/identity"
)

func (q *queries) UserPermissions(ctx context.Context, userID string) ([]identity.Permission, error) {
	return list(ctx, q.r, func(row rowScanner) (identity.Permission, error) {
		var p identity.Permission
		return p, row.Scan(&p.ResourceServerIdentifier, &p.PermissionName)
	}, `SELECT resource_server_identifier, permission_name FROM user_permissions WHERE user_id = $1
		ORDER BY resource_server_identifier, permission_name`, userID)
}

func (q *queries) AddUserPermissions(ctx context.Context, userID string, ps []identity.Permission, now time.Time) error {
	for _, p := range ps {
		_, err := q.w.ExecContext(ctx, `INSERT INTO user_permissions (user_id, resource_server_identifier, permission_name, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, resource_server_identifier, permission_name) DO NOTHING`,
			userID, p.ResourceServerIdentifier, p.PermissionName, millis(now))
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

func (q *queries) RemoveUserPermissions(ctx context.Context, userID string, ps []identity.Permission) error {
	for _, p := range ps {
		_, err := q.w.ExecContext(ctx, `DELETE FROM user_permissions WHERE user_id = $1 AND resource_server_identifier = $2
			AND permission_name = $3`, userID, p.ResourceServerIdentifier, p.PermissionName)
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

func (q *queries) HasUserPermission(ctx context.Context, userID string, p identity.Permission) (bool, error) {
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM user_permissions WHERE user_id = $1
		AND resource_server_identifier = $2 AND permission_name = $3`, userID, p.ResourceServerIdentifier, p.PermissionName).Scan(&n)
	return n > 0, translate(err)
}

const dayMillis = 24 * 60 * 60 * 1000

func (q *queries) InvitationStats(ctx context.Context, from, now time.Time) (identity.InvitationStats, error) {
	var st identity.InvitationStats
	first := millis(from) / dayMillis
	last := millis(now) / dayMillis
	if last < first {
		return st, nil
	}
	days := make([]identity.InvitationDay, last-first+1)
	for i := range days {
		days[i].Day = fromMillis((first + int64(i)) * dayMillis)
	}
	type count struct{ day, n, accepted int64 }
	add := func(query string, set func(d *identity.InvitationDay, c count), args ...any) error {
		counts, err := list(ctx, q.r, func(row rowScanner) (count, error) {
			var c count
			return c, row.Scan(&c.day, &c.n, &c.accepted)
		}, query, args...)
		for _, c := range counts {
			if i := c.day - first; i >= 0 && i < int64(len(days)) {
				set(&days[i], c)
			}
		}
		return err
	}
	start := first * dayMillis
	err := add(`SELECT created_at / 86400000, count(*), count(accepted_at) FROM invitations WHERE created_at >= $1 GROUP BY 1`,
		func(d *identity.InvitationDay, c count) {
			d.Sent = int(c.n)
			st.Sent += int(c.n)
			st.SentAccepted += int(c.accepted)
		}, start)
	if err == nil {
		err = add(`SELECT accepted_at / 86400000, count(*), 0 FROM invitations WHERE accepted_at >= $1 GROUP BY 1`,
			func(d *identity.InvitationDay, c count) { d.Accepted = int(c.n) }, start)
	}
	if err == nil {
		err = add(`SELECT expires_at / 86400000, count(*), 0 FROM invitations WHERE expires_at >= $1 AND expires_at <= $2
			AND accepted_at IS NULL AND revoked_at IS NULL GROUP BY 1`,
			func(d *identity.InvitationDay, c count) { d.Expired = int(c.n) }, start, millis(now))
	}
	st.Days = days
	return st, err
}
