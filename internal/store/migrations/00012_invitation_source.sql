-- Invitations made the Auth0 way: a password-change link sent to someone
-- flagged app_metadata.needsInvitation is recorded as an invitation too.
-- source says who made it: 'usher' (its invitations, imports, dashboard and
-- commands), whose acceptance lowers the flag, or 'password_change' (the
-- recipe), whose flag the tenant's post-login Action lowers.
-- Invitations are looked up by person: the open one, the newest one.

-- +goose Up
ALTER TABLE invitations ADD COLUMN source TEXT NOT NULL DEFAULT 'usher';
CREATE INDEX invitations_user ON invitations (user_id, created_at);

-- +goose Down
DROP INDEX invitations_user;
ALTER TABLE invitations DROP COLUMN source;
