-- The spine: settings, signing keys, connections, users, clients, client grants.
-- Written in the SQL that SQLite and PostgreSQL share; times are Unix milliseconds,
-- JSON documents are text.

-- +goose Up
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    private_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE connections (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    strategy   TEXT NOT NULL,
    config     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    connection_id       TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    email               TEXT NOT NULL,
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    username            TEXT,
    phone_number        TEXT NOT NULL DEFAULT '',
    phone_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash       TEXT NOT NULL DEFAULT '',
    blocked             BOOLEAN NOT NULL DEFAULT FALSE,
    name                TEXT NOT NULL DEFAULT '',
    nickname            TEXT NOT NULL DEFAULT '',
    given_name          TEXT NOT NULL DEFAULT '',
    family_name         TEXT NOT NULL DEFAULT '',
    picture             TEXT NOT NULL DEFAULT '',
    app_metadata        TEXT NOT NULL DEFAULT '{}',
    user_metadata       TEXT NOT NULL DEFAULT '{}',
    logins_count        BIGINT NOT NULL DEFAULT 0,
    last_login          BIGINT,
    last_ip             TEXT NOT NULL DEFAULT '',
    last_password_reset BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_connection_email ON users (connection_id, email);
CREATE UNIQUE INDEX users_connection_username ON users (connection_id, username);
CREATE INDEX users_email ON users (email);
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    config      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE client_grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    audience   TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (client_id, audience)
);

-- +goose Down
DROP TABLE client_grants;
DROP TABLE clients;
DROP TABLE users;
DROP TABLE connections;
DROP TABLE signing_keys;
DROP TABLE settings;
