-- First-class invitations: the record outlives acceptance, with its history.

-- +goose Up
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    client_id       TEXT NOT NULL DEFAULT '',
    inviter_name    TEXT NOT NULL DEFAULT '',
    result_url      TEXT NOT NULL DEFAULT '',
    ttl_ms          BIGINT NOT NULL,
    ticket_id       TEXT NOT NULL,
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    revoked_at      BIGINT
);
CREATE UNIQUE INDEX invitations_idempotency ON invitations (idempotency_key);
CREATE INDEX invitations_ticket ON invitations (ticket_id);
CREATE INDEX invitations_created ON invitations (created_at, id);
CREATE INDEX invitations_email ON invitations (email);

CREATE TABLE invitation_events (
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    at            BIGINT NOT NULL,
    type          TEXT NOT NULL, -- created, sent, resent, accepted, revoked
    mail_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX invitation_events_invitation ON invitation_events (invitation_id, at);

-- +goose Down
DROP TABLE invitation_events;
DROP TABLE invitations;
