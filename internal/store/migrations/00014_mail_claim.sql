-- Fencing of mail claims: each claim writes its own token, and an attempt
-- is recorded only under the token of the claim that made it. A worker
-- whose lease lapsed while another worker claimed the mail again can no
-- longer record over the other's attempt.

-- +goose Up
ALTER TABLE mails ADD COLUMN claim TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE mails DROP COLUMN claim;
