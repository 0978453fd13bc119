package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
)

const tenantSettingsName = "tenant_settings"

func (q *queries) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := q.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, translate(err)
}

func (q *queries) PutSetting(ctx context.Context, name, value string) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return translate(err)
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

// SigningKeys returns every stored signing key, oldest first.
func (q *queries) SigningKeys(ctx context.Context) ([]oauth.StoredKey, error) {
	return list(ctx, q.r, func(row rowScanner) (oauth.StoredKey, error) {
		var k oauth.StoredKey
		var created int64
		err := row.Scan(&k.KID, &k.PrivateKeyPEM, &created)
		k.CreatedAt = fromMillis(created)
		return k, err
	}, `SELECT kid, private_key, created_at FROM signing_keys ORDER BY created_at, kid`)
}

// AddSigningKey stores a new signing key.
func (q *queries) AddSigningKey(ctx context.Context, k oauth.StoredKey) error {
	_, err := q.w.ExecContext(ctx, `INSERT INTO signing_keys (kid, private_key, created_at) VALUES ($1, $2, $3)`,
		k.KID, k.PrivateKeyPEM, millis(k.CreatedAt))
	return translate(err)
}
