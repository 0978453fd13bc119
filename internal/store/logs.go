package store

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/usherid/usher/internal/identity"
)

func (q *queries) AddLog(ctx context.Context, e identity.LogEvent) error {
	details, err := jsonText(e.Details)
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO logs (id, date, type, description, client_id, client_name, ip, user_agent,
		user_id, user_name, connection, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, millis(e.Date), e.Type, e.Description, e.ClientID, e.ClientName, e.IP, e.UserAgent, e.UserID, e.UserName,
		e.Connection, details)
	return translate(err)
}

func (q *queries) Logs(ctx context.Context, lq identity.LogQuery) ([]identity.LogEvent, int, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(lq.Types) > 0 {
		var in []string
		for _, t := range lq.Types {
			in = append(in, arg(t))
		}
		conds = append(conds, "type IN ("+strings.Join(in, ", ")+")")
	}
	if lq.UserID != "" {
		conds = append(conds, "user_id = "+arg(lq.UserID))
	}
	if !lq.From.IsZero() {
		conds = append(conds, "date >= "+arg(millis(lq.From)))
	}
	if !lq.To.IsZero() {
		conds = append(conds, "date <= "+arg(millis(lq.To)))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	total := 0
	if lq.IncludeTotals {
		if err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM logs`+where, args...).Scan(&total); err != nil {
			return nil, 0, translate(err)
		}
	}
	dir := " DESC"
	if lq.Ascending {
		dir = ""
	}
	query := `SELECT id, date, type, description, client_id, client_name, ip, user_agent, user_id, user_name, connection,
		details FROM logs` + where + ` ORDER BY date` + dir + `, id` + dir + ` LIMIT ` + arg(lq.PerPage) + ` OFFSET ` + arg(lq.Page*lq.PerPage)
	events, err := list(ctx, q.r, func(row rowScanner) (identity.LogEvent, error) {
		var e identity.LogEvent
		var date int64
		var details string
		if err := row.Scan(&e.ID, &date, &e.Type, &e.Description, &e.ClientID, &e.ClientName, &e.IP, &e.UserAgent,
			&e.UserID, &e.UserName, &e.Connection, &details); err != nil {
			return e, err
		}
		e.Date = fromMillis(date)
		return e, json.Unmarshal([]byte(details), &e.Details)
	}, query, args...)
	return events, total, err
}
