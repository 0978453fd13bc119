-- The dashboard: permissions granted directly to users, in Auth0's shape
-- (/api/v2/users/{id}/permissions). usher:admin on the Management API lets a
-- person into the dashboard.

-- +goose Up
CREATE TABLE user_permissions (
    user_id                    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resource_server_identifier TEXT NOT NULL,
    permission_name            TEXT NOT NULL,
    created_at                 BIGINT NOT NULL,
    PRIMARY KEY (user_id, resource_server_identifier, permission_name)
);
-- The home page counts invitations accepted and expired per day.
CREATE INDEX invitations_accepted ON invitations (accepted_at);
CREATE INDEX invitations_expires ON invitations (expires_at);

-- +goose Down
DROP INDEX invitations_expires;
DROP INDEX invitations_accepted;
DROP TABLE user_permissions;
