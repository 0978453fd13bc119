-- Rotating refresh tokens: each token names the first token of its line
-- (the login that began it), so that a rotated token used again revokes
-- every token of that line at once.

-- +goose Up
ALTER TABLE grants ADD COLUMN family TEXT NOT NULL DEFAULT '';
CREATE INDEX grants_family ON grants (family);

-- +goose Down
DROP INDEX grants_family;
ALTER TABLE grants DROP COLUMN family;
