package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
)

const mailColumns = `id, message_id, template, user_id, to_addr, from_addr, subject, html_body, text_body, status,
	attempts, last_reply, next_attempt, created_at, sent_at`

func scanMail(row rowScanner) (identity.Mail, error) {
	var m identity.Mail
	var next, created int64
	var sent sql.NullInt64
	err := row.Scan(&m.ID, &m.MessageID, &m.Template, &m.UserID, &m.To, &m.From, &m.Subject, &m.HTML, &m.Text,
		&m.Status, &m.Attempts, &m.LastReply, &next, &created, &sent)
	m.NextAttempt, m.CreatedAt, m.SentAt = fromMillis(next), fromMillis(created), fromNullMillis(sent)
	return m, translate(err)
}

func (q *queries) EnqueueMail(ctx context.Context, m identity.Mail) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO mails (id, message_id, template, user_id, to_addr, from_addr, subject,
		html_body, text_body, status, next_attempt, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		m.ID, m.MessageID, m.Template, m.UserID, m.To, m.From, m.Subject, m.HTML, m.Text, identity.MailQueued,
		millis(m.CreatedAt), millis(m.CreatedAt))
	return translate(err)
}

// ClaimMails leases due mails to the caller. PostgreSQL instances skip rows
// another instance has locked; SQLite has one writer, so the update is the lock.
func (db *DB) ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]identity.Mail, error) {
	lock := ""
	if db.engine == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return list(ctx, db.w, scanMail, `UPDATE mails SET status = $1, next_attempt = $2
		WHERE id IN (SELECT id FROM mails WHERE status IN ($3, $4, $1) AND next_attempt <= $5
			ORDER BY next_attempt, id LIMIT $6`+lock+`)
		RETURNING `+mailColumns,
		identity.MailSending, millis(now.Add(lease)), identity.MailQueued, identity.MailFailed, millis(now), limit)
}

// RecordAttempt stores one delivery attempt and the mail's new status.
func (db *DB) RecordAttempt(ctx context.Context, id string, at time.Time, status, reply string, next time.Time) error {
	return db.Atomic(ctx, func(st identity.Store) error {
		q := st.(*queries)
		sent := sql.NullInt64{}
		if status == identity.MailSent {
			sent = nullMillis(at)
		}
		if err := mustAffect(q.w.ExecContext(ctx, `UPDATE mails SET status = $1, attempts = attempts + 1, last_reply = $2,
			next_attempt = $3, sent_at = $4 WHERE id = $5`, status, reply, millis(next), sent, id)); err != nil {
			return fmt.Errorf("record attempt of %s: %w", id, err)
		}
		_, err := q.w.ExecContext(ctx, `INSERT INTO mail_attempts (mail_id, at, status, reply) VALUES ($1, $2, $3, $4)`,
			id, millis(at), status, reply)
		return translate(err)
	})
}

// Mails returns a page of the outbox and how many mails match.
func (db *DB) Mails(ctx context.Context, mq mail.Query) ([]identity.Mail, int, error) {
	var conds []string
	var args []any
	if mq.Status != "" {
		args = append(args, mq.Status)
		conds = append(conds, "status = $"+strconv.Itoa(len(args)))
	}
	if mq.To != "" {
		args = append(args, strings.ToLower(mq.To))
		conds = append(conds, "lower(to_addr) = $"+strconv.Itoa(len(args)))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM mails`+where, args...).Scan(&total); err != nil {
		return nil, 0, translate(err)
	}
	n := len(args)
	mails, err := list(ctx, db.r, scanMail, `SELECT `+mailColumns+` FROM mails`+where+
		` ORDER BY created_at DESC, id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, mq.PerPage, mq.Page*mq.PerPage)...)
	return mails, total, err
}

// Mail returns one mail of the outbox.
func (db *DB) Mail(ctx context.Context, id string) (identity.Mail, error) {
	return scanMail(db.r.QueryRowContext(ctx, `SELECT `+mailColumns+` FROM mails WHERE id = $1`, id))
}

// MailAttempts returns every attempt to deliver a mail, oldest first.
func (db *DB) MailAttempts(ctx context.Context, id string) ([]mail.Attempt, error) {
	return list(ctx, db.r, func(row rowScanner) (mail.Attempt, error) {
		var a mail.Attempt
		var at int64
		err := row.Scan(&at, &a.Status, &a.Reply)
		a.At = fromMillis(at)
		return a, err
	}, `SELECT at, status, reply FROM mail_attempts WHERE mail_id = $1 ORDER BY at`, id)
}

// RetryMail queues a dead or failed mail again, now.
func (db *DB) RetryMail(ctx context.Context, id string, now time.Time) error {
	return mustAffect(db.w.ExecContext(ctx, `UPDATE mails SET status = $1, next_attempt = $2
		WHERE id = $3 AND status IN ($4, $5)`, identity.MailQueued, millis(now), id, identity.MailDead, identity.MailFailed))
}
