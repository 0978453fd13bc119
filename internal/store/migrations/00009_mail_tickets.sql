-- A mail's link is as good as a password, so the outbox keeps no usable
-- copy of it: the stored subject and bodies hold a placeholder where the
-- ticket's token was, and the token waits in its own column only while the
-- mail is pending. Recording a delivery or giving up empties it.
--
-- Mails written before this migration still carry their tokens in their
-- bodies. SQL alone cannot find them in both engines, so the row below asks
-- the next start (store.DB.Migrate) to move them out, in Go, and is deleted
-- once that is done.

-- +goose Up
ALTER TABLE mails ADD COLUMN ticket TEXT NOT NULL DEFAULT '';
INSERT INTO settings (name, value) VALUES ('outbox_tickets_to_hide', 'pending');

-- +goose Down
DELETE FROM settings WHERE name = 'outbox_tickets_to_hide';
ALTER TABLE mails DROP COLUMN ticket;
