-- The invitation loop: tickets, email templates, the mail outbox with every
-- delivery attempt, and the tenant log.

-- +goose Up
CREATE TABLE tickets (
    id                  TEXT PRIMARY KEY, -- SHA-256 of the token in the link; the token itself is never stored
    kind                TEXT NOT NULL,    -- password_change or email_verification
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL DEFAULT '',
    result_url          TEXT NOT NULL DEFAULT '',
    mark_email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    include_email       BOOLEAN NOT NULL DEFAULT FALSE,
    purpose             TEXT NOT NULL DEFAULT '', -- invite or reset, when known
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    used_at             BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX tickets_user ON tickets (user_id, kind);

CREATE TABLE email_templates (
    name       TEXT PRIMARY KEY,
    config     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE mails (
    id           TEXT PRIMARY KEY,
    message_id   TEXT NOT NULL,
    template     TEXT NOT NULL,
    user_id      TEXT NOT NULL DEFAULT '',
    to_addr      TEXT NOT NULL,
    from_addr    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    html_body    TEXT NOT NULL,
    text_body    TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_reply   TEXT NOT NULL DEFAULT '',
    next_attempt BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    sent_at      BIGINT
);
CREATE INDEX mails_due ON mails (status, next_attempt);
CREATE INDEX mails_created ON mails (created_at, id);

CREATE TABLE mail_attempts (
    mail_id TEXT NOT NULL REFERENCES mails (id) ON DELETE CASCADE,
    at      BIGINT NOT NULL,
    status  TEXT NOT NULL,
    reply   TEXT NOT NULL
);
CREATE INDEX mail_attempts_mail ON mail_attempts (mail_id, at);

CREATE TABLE logs (
    id          TEXT PRIMARY KEY,
    date        BIGINT NOT NULL,
    type        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    client_id   TEXT NOT NULL DEFAULT '',
    client_name TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    user_id     TEXT NOT NULL DEFAULT '',
    user_name   TEXT NOT NULL DEFAULT '',
    connection  TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX logs_date ON logs (date, id);
CREATE INDEX logs_type ON logs (type, date);
CREATE INDEX logs_user ON logs (user_id, date);

-- +goose Down
DROP TABLE logs;
DROP TABLE mail_attempts;
DROP TABLE mails;
DROP TABLE email_templates;
DROP TABLE tickets;
