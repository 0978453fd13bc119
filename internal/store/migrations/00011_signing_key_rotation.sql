-- Signing keys rotate as Auth0's do: one current key signs, the next one is
-- published ahead of its turn, previous ones stay published until revoked.
-- Private keys (like every secret at rest) are sealed with the operator's key
-- by the application; a revoked key keeps only its public certificate.
-- Of the keys an older Usher made, the oldest is the current one (it signed
-- with it); any other stays published as a previous key.

-- +goose Up
ALTER TABLE signing_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'previous';
ALTER TABLE signing_keys ADD COLUMN cert TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_keys ADD COLUMN current_since BIGINT;
ALTER TABLE signing_keys ADD COLUMN current_until BIGINT;
ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;
UPDATE signing_keys SET role = 'current', current_since = created_at
    WHERE kid = (SELECT kid FROM signing_keys ORDER BY created_at, kid LIMIT 1);
-- At most one current and one next key, even with instances racing to make them.
CREATE UNIQUE INDEX signing_keys_role ON signing_keys (role) WHERE role IN ('current', 'next');

-- +goose Down
DROP INDEX signing_keys_role;
ALTER TABLE signing_keys DROP COLUMN revoked_at;
ALTER TABLE signing_keys DROP COLUMN current_until;
ALTER TABLE signing_keys DROP COLUMN current_since;
ALTER TABLE signing_keys DROP COLUMN cert;
ALTER TABLE signing_keys DROP COLUMN role;
