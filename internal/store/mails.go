package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/outbox"
)

const mailColumns = `id, message_id, template, user_id, to_addr, from_addr, subject, html_body, text_body, ticket, status,
	attempts, last_reply, next_attempt, created_at, sent_at, claim`

func scanMail(row rowScanner) (outbox.Mail, error) {
	var m outbox.Mail
	var next, created int64
	var sent sql.NullInt64
	err := row.Scan(&m.ID, &m.MessageID, &m.Template, &m.UserID, &m.To, &m.From, &m.Subject, &m.HTML, &m.Text, &m.Ticket,
		&m.Status, &m.Attempts, &m.LastReply, &next, &created, &sent, &m.Claim)
	m.NextAttempt, m.CreatedAt, m.SentAt = fromMillis(next), fromMillis(created), fromNullMillis(sent)
	return m, translate(err)
}

func (q *queries) EnqueueMail(ctx context.Context, m outbox.Mail) error {
	return q.insert(ctx, mailsTable, [][]any{mailRow(m)})
}

// ClaimMails leases due mails to the caller, longest due first. PostgreSQL
// instances skip rows another instance has locked; SQLite has one writer, so
// the update is the lock.
//
// No index orders mails across the three claimable statuses, and sorting
// every due mail on each claim costs more as the backlog grows (with 20,000
// queued mails, most of a batch's time). So each status is walked in
// next_attempt order on mails_due, at most limit rows each, and the three
// walks are merged. Ties are broken by rowid (the order of queueing) on
// SQLite, where it is in the index, and by id on PostgreSQL.
func (q *queries) ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]outbox.Mail, error) {
	key, tie, lock := "id", "", " FOR UPDATE SKIP LOCKED"
	if q.db.engine == SQLite {
		key, tie, lock = "rowid", ", rowid", ""
	}
	walk := func(status, alias string) string {
		return `SELECT * FROM (SELECT ` + key + ` AS k, next_attempt FROM mails WHERE status = ` + status +
			` AND next_attempt <= $5 ORDER BY next_attempt` + tie + ` LIMIT $6` + lock + `) AS ` + alias
	}
	due := `SELECT k FROM (` + walk("$3", "q") + ` UNION ALL ` + walk("$4", "f") + ` UNION ALL ` + walk("$1", "s") +
		`) AS due ORDER BY next_attempt, k LIMIT $6`
	return list(ctx, q.w, scanMail, `UPDATE mails SET status = $1, next_attempt = $2, claim = $7 WHERE `+key+` IN (`+due+`)
		RETURNING `+mailColumns,
		outbox.Sending, millis(now.Add(lease)), outbox.Queued, outbox.Failed, millis(now), limit, claimToken())
}

// ClaimMailsCapped claims like ClaimMails, no more than the cap's window
// has room for, and counts the claim in the window, in one transaction.
//
// Every instance's capped claims go through the one mail_rate row, locked
// for the transaction (SQLite's single writer is the lock there), so claims
// under a cap are serialized: they are rare by nature, a cap being far below
// what the worker can send. A window opens at the first claim that gets mail
// after the previous one ended, and lasts rate.Window. A clock behind the
// one that opened the window counts in it rather than opening another.
func (db *DB) ClaimMailsCapped(ctx context.Context, now time.Time, lease time.Duration, limit int, rate mail.Rate) ([]outbox.Mail, mail.RateWindow, error) {
	if rate.Window <= 0 || rate.Max <= 0 {
		return nil, mail.RateWindow{}, fmt.Errorf("claim mails: a rate cap needs a positive count and window, not %+v", rate)
	}
	lock := " FOR UPDATE"
	if db.engine == SQLite {
		lock = ""
	}
	var mails []outbox.Mail
	var win mail.RateWindow
	err := db.atomic(ctx, func(q *queries) error {
		var start int64
		if err := q.w.QueryRowContext(ctx, `SELECT window_start, claimed FROM mail_rate WHERE id = 1`+lock).
			Scan(&start, &win.Claimed); err != nil {
			return fmt.Errorf("read the mail rate window: %w", translate(err))
		}
		if millis(now) >= start+rate.Window.Milliseconds() {
			start, win.Claimed = millis(now), 0 // the last window is over; this one opens if mail is claimed
		}
		win.Start = fromMillis(start)
		room := min(limit, rate.Max-win.Claimed)
		if room <= 0 {
			return nil
		}
		var err error
		if mails, err = q.ClaimMails(ctx, now, lease, room); err != nil || len(mails) == 0 {
			return err
		}
		win.Claimed += len(mails)
		_, err = q.w.ExecContext(ctx, `UPDATE mail_rate SET window_start = $1, claimed = $2 WHERE id = 1`, start, win.Claimed)
		return translate(err)
	})
	if err != nil {
		return nil, mail.RateWindow{}, err
	}
	return mails, win, nil
}

// DueMails counts the mails a claim at now could take: queued or failed and
// due, or sending with a lapsed lease.
func (db *DB) DueMails(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM mails WHERE status IN ($1, $2, $3) AND next_attempt <= $4`,
		outbox.Queued, outbox.Failed, outbox.Sending, millis(now)).Scan(&n)
	return n, translate(err)
}

// Backlog is what waits in the outbox, for /metrics.
type Backlog struct {
	// The mails in each status, each counted up to the bound asked for.
	Queued, Sending, Failed, Dead int
	// OldestDue is when the mail due the longest became due: a queued
	// mail when it was queued, a failed one when its retry came. Zero when
	// no queued or failed mail is due.
	OldestDue time.Time
}

// OutboxBacklog counts the outbox's mails by status, up to max of each,
// and finds the queued or failed mail due the longest at now, in one
// statement. Each count walks mails_due for its status and stops at max, so
// that a deep outbox costs a scrape no more than max rows a status; the
// oldest due mail is the first entry of mails_due for its status.
func (db *DB) OutboxBacklog(ctx context.Context, now time.Time, max int) (Backlog, error) {
	count := func(status string) string {
		return `(SELECT count(*) FROM (SELECT 1 FROM mails WHERE status = ` + status + ` LIMIT $5) AS c)`
	}
	oldest := func(status string) string {
		return `(SELECT min(next_attempt) FROM mails WHERE status = ` + status + ` AND next_attempt <= $6)`
	}
	var b Backlog
	var queued, failed sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT `+count("$1")+`, `+count("$2")+`, `+count("$3")+`, `+count("$4")+`, `+
		oldest("$1")+`, `+oldest("$3"),
		outbox.Queued, outbox.Sending, outbox.Failed, outbox.Dead, max, millis(now)).
		Scan(&b.Queued, &b.Sending, &b.Failed, &b.Dead, &queued, &failed)
	if err != nil {
		return Backlog{}, fmt.Errorf("outbox backlog: %w", translate(err))
	}
	for _, due := range []sql.NullInt64{queued, failed} {
		if t := fromNullMillis(due); !t.IsZero() && (b.OldestDue.IsZero() || t.Before(b.OldestDue)) {
			b.OldestDue = t
		}
	}
	return b, nil
}

// claimToken is a new claim's own token.
func claimToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RecordAttempts stores several delivery attempts in one transaction: the
// outbox worker records every delivery that finished meanwhile with one commit.
func (db *DB) RecordAttempts(ctx context.Context, attempts []mail.AttemptRecord) error {
	// Inside a transaction the store runs a statement it has not prepared
	// yet unprepared, and these two never run outside one: prepare them
	// first, or SQLite parses both for every mail delivered.
	if p, ok := db.w.(*prepared); ok {
		p.stmt(ctx, updateAttempted)
		p.stmt(ctx, insertAttempt)
	}
	return db.atomic(ctx, func(q *queries) error {
		for _, a := range attempts {
			sent := sql.NullInt64{}
			if a.Status == outbox.Sent {
				sent = nullMillis(a.At)
			}
			// The ticket goes in the statement that ends the mail's life:
			// no moment passes in which a finished mail keeps its link.
			done := a.Status == outbox.Sent || a.Status == outbox.Dead
			if err := mustAffect(q.w.ExecContext(ctx, updateAttempted, a.Status, a.Reply, millis(a.Next), sent, a.ID, done, a.Claim)); errors.Is(err, errs.ErrNotFound) {
				return q.unrecorded(ctx, a.ID)
			} else if err != nil {
				return fmt.Errorf("record attempt of %s: %w", a.ID, err)
			}
			if _, err := q.w.ExecContext(ctx, insertAttempt, a.ID, millis(a.At), a.Status, a.Reply); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// unrecorded explains why an attempt of mail id changed nothing: there is
// no such mail, or another claim holds it now.
func (q *queries) unrecorded(ctx context.Context, id string) error {
	var claim string
	if err := q.w.QueryRowContext(ctx, `SELECT claim FROM mails WHERE id = $1`, id).Scan(&claim); err != nil {
		return fmt.Errorf("record attempt of %s: %w", id, translate(err))
	}
	return fmt.Errorf("record attempt of %s: %w", id, errs.ErrLeaseLost)
}

const (
	updateAttempted = `UPDATE mails SET status = $1, attempts = attempts + 1, last_reply = $2,
		next_attempt = $3, sent_at = $4, ticket = CASE WHEN $6 THEN '' ELSE ticket END WHERE id = $5 AND claim = $7`
	insertAttempt = `INSERT INTO mail_attempts (mail_id, at, status, reply) VALUES ($1, $2, $3, $4)`
)

// Mails returns a page of the outbox and how many mails match.
func (db *DB) Mails(ctx context.Context, mq mail.Query) ([]outbox.Mail, int, error) {
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
func (db *DB) Mail(ctx context.Context, id string) (outbox.Mail, error) {
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

// RetryMail queues a dead or failed mail again, now, unless its link was
// dropped when it was given up: sent again, it would carry a dead link.
func (db *DB) RetryMail(ctx context.Context, id string, now time.Time) error {
	return mustAffect(db.w.ExecContext(ctx, `UPDATE mails SET status = $1, next_attempt = $2
		WHERE id = $3 AND status IN ($4, $5) AND (ticket <> '' OR NOT (subject LIKE $6 OR from_addr LIKE $6
			OR html_body LIKE $6 OR text_body LIKE $6))`,
		outbox.Queued, millis(now), id, outbox.Dead, outbox.Failed, "%"+mail.HiddenTicket+"%"))
}

// oldTicketsSetting is the settings row migration 00009 leaves for
// hideOldTickets: mails written before it may carry their tokens.
const oldTicketsSetting = "outbox_tickets_to_hide"

// ticketInLink finds a ticket's token in a mail written before tokens were
// kept apart: the ticket parameter of a link to a ticket's page, as Usher
// writes it (?ticket=TOKEN#, 43 characters of base64url), and as a
// template's url_encode leaves it.
var ticketInLink = regexp.MustCompile(`ticket(?:=|%3[dD])([A-Za-z0-9_-]{32,})`)

// hideOldTickets gives mails written before migration 00009 the shape of
// later ones: the token of each link is replaced by mail.HiddenTicket and
// kept apart while the mail is pending, dropped when it was sent or given
// up. It runs once, after the migration: the settings row says it is due.
// Running it twice at once (two instances starting) is harmless: both
// write the same.
func (db *DB) hideOldTickets(ctx context.Context) error {
	if _, err := db.Setting(ctx, oldTicketsSetting); errors.Is(err, errs.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("hide the links of old mails: %w", err)
	}
	after := ""
	for {
		type old struct {
			id, subject, from, html, text string
		}
		mails, err := list(ctx, db.w, func(row rowScanner) (old, error) {
			var m old
			return m, row.Scan(&m.id, &m.subject, &m.from, &m.html, &m.text)
		}, `SELECT id, subject, from_addr, html_body, text_body FROM mails WHERE id > $1 AND ticket = ''
			AND (html_body LIKE '%ticket%' OR text_body LIKE '%ticket%' OR subject LIKE '%ticket%' OR from_addr LIKE '%ticket%')
			ORDER BY id LIMIT 500`, after)
		if err != nil {
			return fmt.Errorf("hide the links of old mails: %w", err)
		}
		if len(mails) == 0 {
			break
		}
		after = mails[len(mails)-1].id
		err = db.atomic(ctx, func(q *queries) error {
			for _, o := range mails {
				m := outbox.Mail{Subject: o.subject, From: o.from, HTML: o.html, Text: o.text}
				var ticket string
				for _, texts := range []string{o.html, o.text, o.subject, o.from} {
					for _, found := range ticketInLink.FindAllStringSubmatch(texts, -1) {
						m = mail.HideTicket(m, found[1])
						if ticket == "" {
							ticket = m.Ticket // a mail has one ticket; should it show more, the first is its own
						}
					}
				}
				if ticket == "" {
					continue
				}
				// The status is read by the update itself: a mail delivered
				// since the read above keeps no ticket.
				if _, err := q.w.ExecContext(ctx, `UPDATE mails SET subject = $1, from_addr = $2, html_body = $3, text_body = $4,
					ticket = CASE WHEN status IN ($5, $6) THEN '' ELSE $7 END WHERE id = $8`,
					m.Subject, m.From, m.HTML, m.Text, outbox.Sent, outbox.Dead, ticket, o.id); err != nil {
					return translate(err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("hide the links of old mails: %w", err)
		}
	}
	_, err := db.w.ExecContext(ctx, `DELETE FROM settings WHERE name = $1`, oldTicketsSetting)
	return translate(err)
}
