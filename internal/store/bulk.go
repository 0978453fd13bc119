package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/outbox"
)

// table names a table and the columns an insert fills, so that one row and
// a thousand go in through the same statement text.
type table struct {
	name    string
	columns []string
}

var (
	usersTable = table{"users", []string{"id", "connection_id", "email", "email_verified", "username", "phone_number",
		"phone_verified", "password_hash", "blocked", "name", "nickname", "given_name", "family_name", "picture",
		"app_metadata", "user_metadata", "logins_count", "last_login", "last_ip", "last_password_reset", "created_at", "updated_at"}}
	ticketsTable = table{"tickets", []string{"id", "kind", "user_id", "client_id", "result_url", "mark_email_verified",
		"include_email", "purpose", "created_at", "expires_at"}}
	mailsTable = table{"mails", []string{"id", "message_id", "template", "user_id", "to_addr", "from_addr", "subject",
		"html_body", "text_body", "ticket", "status", "next_attempt", "created_at"}}
	invitationsTable = table{"invitations", []string{"id", "user_id", "email", "connection_id", "client_id", "inviter_name",
		"result_url", "ttl_ms", "ticket_id", "idempotency_key", "source", "created_at", "expires_at"}}
	invitationEventsTable = table{"invitation_events", []string{"invitation_id", "at", "type", "mail_id"}}
	jobErrorsTable        = table{"job_errors", []string{"job_id", "row_no", "line", "record", "errors"}}
)

// bulkRows is how many rows one multi-row insert carries: far below both
// engines' limits on bound parameters, and few statement shapes to prepare.
const bulkRows = 100

var insertSQL sync.Map // engine, table and row count → statement

// sql is the insert statement for n rows. SQLite gets anonymous "?"
// parameters: it looks a numbered one up by name on every bind, which in
// a statement of thousands of parameters costs more than the insert.
func (t table) sql(e Engine, n int) string {
	key := string(e) + "/" + t.name + "/" + strconv.Itoa(n)
	if s, ok := insertSQL.Load(key); ok {
		return s.(string)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", t.name, strings.Join(t.columns, ", "))
	p := 1
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range t.columns {
			if c > 0 {
				b.WriteString(", ")
			}
			if e == SQLite {
				b.WriteByte('?')
			} else {
				b.WriteString("$" + strconv.Itoa(p))
			}
			p++
		}
		b.WriteByte(')')
	}
	insertSQL.Store(key, b.String())
	return b.String()
}

// insert adds rows to t, bulkRows per statement and the remainder in one
// more.
func (q *queries) insert(ctx context.Context, t table, rows [][]any) error {
	for len(rows) > 0 {
		n := min(len(rows), bulkRows)
		args := make([]any, 0, n*len(t.columns))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := q.w.ExecContext(ctx, t.sql(q.db.engine, n), args...); err != nil {
			return translate(err)
		}
		rows = rows[n:]
	}
	return nil
}

func ticketRow(t identity.Ticket) []any {
	return []any{t.ID, t.Kind, t.UserID, t.ClientID, t.ResultURL, t.MarkEmailVerified, t.IncludeEmail, t.Purpose,
		millis(t.CreatedAt), millis(t.ExpiresAt)}
}

func mailRow(m outbox.Mail) []any {
	return []any{m.ID, m.MessageID, m.Template, m.UserID, m.To, m.From, m.Subject, m.HTML, m.Text, m.Ticket, outbox.Queued,
		millis(m.CreatedAt), millis(m.CreatedAt)}
}

func invitationRow(inv identity.Invitation) []any {
	return []any{inv.ID, inv.UserID, inv.Email, inv.ConnectionID, inv.ClientID, inv.InviterName, inv.ResultURL,
		inv.TTL.Milliseconds(), inv.TicketID, nullString(inv.IdempotencyKey), sourceOf(inv), millis(inv.CreatedAt), millis(inv.ExpiresAt)}
}

// sourceOf is who made inv; one that does not say is Usher's.
func sourceOf(inv identity.Invitation) string {
	if inv.Source == "" {
		return identity.InvitationByUsher
	}
	return inv.Source
}

func userRow(u identity.User) ([]any, error) {
	args, err := userArgs(u)
	return append([]any{u.ID}, args...), err
}

func (q *queries) InsertBulk(ctx context.Context, b identity.BulkInsert) error {
	users := make([][]any, len(b.Users))
	for i, u := range b.Users {
		row, err := userRow(u)
		if err != nil {
			return fmt.Errorf("insert users: %w", err)
		}
		users[i] = row
	}
	var invs, events, tickets, mails [][]any
	for _, inv := range b.Invitations {
		invs = append(invs, invitationRow(inv))
		for _, e := range inv.Events {
			events = append(events, []any{inv.ID, millis(e.At), e.Type, e.MailID})
		}
	}
	for _, t := range b.Tickets {
		tickets = append(tickets, ticketRow(t))
	}
	for _, m := range b.Mails {
		mails = append(mails, mailRow(m))
	}
	for _, step := range []struct {
		t    table
		rows [][]any
	}{{usersTable, users}, {invitationsTable, invs}, {invitationEventsTable, events}, {ticketsTable, tickets}, {mailsTable, mails}} {
		if err := q.insert(ctx, step.t, step.rows); err != nil {
			return err
		}
	}
	return nil
}

// UsersByEmails looks the emails up in slices, each one query.
//
// On PostgreSQL each query is planned for its own arguments: a prepared
// statement's generic plan, fixed while an import's table was still empty,
// would go on scanning the whole table as it fills.
func (q *queries) UsersByEmails(ctx context.Context, connectionID string, emails []string) (map[string]identity.User, error) {
	ex, lead := q.r, []any{}
	if p, ok := q.r.(*prepared); ok && q.db.engine == Postgres {
		ex, lead = p.raw(), []any{pgx.QueryExecModeExec}
	}
	found := map[string]identity.User{}
	for len(emails) > 0 {
		n := min(len(emails), 500)
		args := append(lead, connectionID)
		marks := make([]string, n)
		for i, e := range emails[:n] {
			args = append(args, e)
			marks[i] = "$" + strconv.Itoa(i+2)
		}
		users, err := q.usersFrom(ctx, ex, `SELECT `+userColumns+userFrom+` WHERE u.connection_id = $1 AND u.email IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			found[u.Email] = u
		}
		emails = emails[n:]
	}
	return found, nil
}
