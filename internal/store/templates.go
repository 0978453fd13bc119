package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/usherid/usher/internal/mail"
)

// EmailTemplate returns the tenant's saved template, or errs.ErrNotFound
// when the tenant still uses the default.
func (db *DB) EmailTemplate(ctx context.Context, name string) (mail.Template, error) {
	var doc string
	if err := db.r.QueryRowContext(ctx, `SELECT config FROM email_templates WHERE name = $1`, name).Scan(&doc); err != nil {
		return mail.Template{}, translate(err)
	}
	var t mail.Template
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return t, fmt.Errorf("email template %s: %w", name, err)
	}
	return t, nil
}

// SaveEmailTemplate stores a template, replacing any earlier one.
func (db *DB) SaveEmailTemplate(ctx context.Context, t mail.Template) error {
	doc, err := jsonText(t)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO email_templates (name, config, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
		t.Name, doc, millis(time.Now()))
	return translate(err)
}
