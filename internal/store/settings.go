package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/usherid/usher/internal/identity"
)

const tenantSettingsName = "tenant_settings"

// Setting returns the setting called name. Inside a transaction it holds
// the setting, stored or not, until the transaction ends.
func (q *queries) Setting(ctx context.Context, name string) (string, error) {
	if err := q.lock(ctx, settingLock(name)); err != nil {
		return "", err
	}
	var v string
	err := q.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`+q.forUpdate(), name).Scan(&v)
	return v, translate(err)
}

// PutSetting stores the setting called name, holding it as Setting does.
func (q *queries) PutSetting(ctx context.Context, name, value string) error {
	return q.locked(ctx, settingLock(name), func(q *queries) error {
		_, err := q.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return translate(err)
	})
}

// settingLock names the lock on a setting.
func settingLock(name string) string { return "settings/" + name }

// CompareAndPutSetting replaces the setting name only if it still holds
// old, and reports whether it did.
func (q *queries) CompareAndPutSetting(ctx context.Context, name, old, value string) (bool, error) {
	res, err := q.w.ExecContext(ctx, `UPDATE settings SET value = $1 WHERE name = $2 AND value = $3`, value, name, old)
	if err != nil {
		return false, translate(err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (q *queries) TenantSettings(ctx context.Context) (identity.TenantSettings, error) {
	doc, err := q.Setting(ctx, tenantSettingsName)
	if err != nil {
		return identity.TenantSettings{}, fmt.Errorf("tenant settings: %w", err)
	}
	var s identity.TenantSettings
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		return s, fmt.Errorf("tenant settings: %w", err)
	}
	return s, nil
}

func (q *queries) SaveTenantSettings(ctx context.Context, s identity.TenantSettings) error {
	doc, err := jsonText(s)
	if err != nil {
		return fmt.Errorf("save tenant settings: %w", err)
	}
	return q.PutSetting(ctx, tenantSettingsName, doc)
}
