-- Fencing of import leases: whoever takes a job writes its own token, and
-- every later write of the job names that token. A runner whose lease
-- lapsed while another instance resumed the job can no longer commit a
-- batch over the other's progress.

-- +goose Up
ALTER TABLE jobs ADD COLUMN claim TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN claim;
