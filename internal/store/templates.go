package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/usherid/usher/internal/mail"
)

// EmailTemplate returns the tenant's saved template, or errs.ErrNotFound
// when the tenant still uses the default. Inside a transaction it holds the
// template, saved or not, until the transaction ends.
func (q *queries) EmailTemplate(ctx context.Context, name string) (mail.Template, error) {
	if err := q.lock(ctx, templateLock(name)); err != nil {
		return mail.Template{}, err
	}
	var doc string
	if err := q.r.QueryRowContext(ctx, `SELECT config FROM email_templates WHERE name = $1`+q.forUpdate(), name).Scan(&doc); err != nil {
		return mail.Template{}, translate(err)
	}
	var t mail.Template
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return t, fmt.Errorf("email template %s: %w", name, err)
	}
	return t, nil
}

// templateLock names the lock on an email template.
func templateLock(name string) string { return "email_templates/" + name }

// SaveEmailTemplate stores a template, replacing any earlier one; it holds
// the template as EmailTemplate does.
func (q *queries) SaveEmailTemplate(ctx context.Context, t mail.Template) error {
	doc, err := jsonText(t)
	if err != nil {
		return err
	}
	return q.locked(ctx, templateLock(t.Name), func(q *queries) error {
		_, err := q.w.ExecContext(ctx, `INSERT INTO email_templates (name, config, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
			t.Name, doc, millis(time.Now()))
		return translate(err)
	})
}

// AtomicMail runs fn in one transaction, as Atomic does, handing it the
// transaction's store as the mail package's Tx.
func (q *queries) AtomicMail(ctx context.Context, fn func(mail.Tx) error) error {
	return q.atomic(ctx, func(tx *queries) error { return fn(tx) })
}
