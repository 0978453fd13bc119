-- Login: failed attempts for brute-force protection, browser sessions,
-- authorization codes and refresh tokens (only hashes are stored).

-- +goose Up
CREATE TABLE login_failures (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip         TEXT NOT NULL,
    count      INTEGER NOT NULL,
    last_at    BIGINT NOT NULL,
    blocked_at BIGINT,
    PRIMARY KEY (user_id, ip)
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY, -- SHA-256 of the cookie value
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY, -- SHA-256 of the code or refresh token
    kind       TEXT NOT NULL,    -- code or refresh_token
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    details    TEXT NOT NULL,    -- JSON: scope, audience, redirect_uri, nonce, PKCE challenge, claims
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX grants_user ON grants (user_id);

-- +goose Down
DROP TABLE grants;
DROP TABLE sessions;
DROP TABLE login_failures;
