-- Jobs: users imports (with their uploaded file, kept until the job ends, so
-- that any instance can run or resume them) and verification mails.

-- +goose Up
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    status          TEXT NOT NULL,
    connection_id   TEXT NOT NULL DEFAULT '',
    connection      TEXT NOT NULL DEFAULT '',
    external_id     TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT,
    options         TEXT NOT NULL DEFAULT '{}',
    stored_file     BOOLEAN NOT NULL DEFAULT FALSE,
    file_bytes      BIGINT NOT NULL DEFAULT 0,
    rows_done       BIGINT NOT NULL DEFAULT 0,
    bytes_done      BIGINT NOT NULL DEFAULT 0,
    summary         TEXT NOT NULL DEFAULT '{}',
    status_details  TEXT NOT NULL DEFAULT '',
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key);
CREATE INDEX jobs_runnable ON jobs (status, lease_until);

CREATE TABLE job_chunks (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE job_errors (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    row_no BIGINT NOT NULL,
    line   BIGINT NOT NULL,
    record TEXT NOT NULL,
    errors TEXT NOT NULL,
    PRIMARY KEY (job_id, row_no)
);

-- +goose Down
DROP TABLE job_errors;
DROP TABLE job_chunks;
DROP TABLE jobs;
