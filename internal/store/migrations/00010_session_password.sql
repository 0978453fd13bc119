-- A browser session remembers which password its login proved (the time that
-- password was set, in ms; 0 for a user who never changed it), so that a
-- session started by a login under way while the password changed is refused
-- even though the change already removed the user's other sessions. NULL:
-- a session from before this column, trusted as before.

-- +goose Up
ALTER TABLE sessions ADD COLUMN password_stamp BIGINT;

-- +goose Down
ALTER TABLE sessions DROP COLUMN password_stamp;
