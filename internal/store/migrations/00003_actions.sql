-- Actions: the tenant's actions (their drafts), the versions each deploy
-- snapshots, their secrets, and the bindings that place deployed actions in a
-- trigger's flow.

-- +goose Up
CREATE TABLE actions (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    trigger_id           TEXT NOT NULL,
    trigger_version      TEXT NOT NULL,
    code                 TEXT NOT NULL,
    runtime              TEXT NOT NULL,
    dependencies         TEXT NOT NULL DEFAULT '[]',
    status               TEXT NOT NULL,
    all_changes_deployed BOOLEAN NOT NULL DEFAULT FALSE,
    versions             INTEGER NOT NULL DEFAULT 0, -- the number of the last version deployed
    built_at             BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX actions_created ON actions (created_at, id);

CREATE TABLE action_versions (
    id              TEXT PRIMARY KEY,
    action_id       TEXT NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    number          INTEGER NOT NULL,
    trigger_id      TEXT NOT NULL,
    trigger_version TEXT NOT NULL,
    code            TEXT NOT NULL,
    runtime         TEXT NOT NULL,
    dependencies    TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL,
    deployed        BOOLEAN NOT NULL DEFAULT FALSE, -- the version that runs; one per action at most
    built_at        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (action_id, number)
);

-- Secret values reach event.secrets and are never shown by the API.
CREATE TABLE action_secrets (
    action_id  TEXT NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    version_id TEXT NOT NULL DEFAULT '', -- '' for the draft's; else the version that took a copy at its deploy
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (action_id, version_id, name)
);

CREATE TABLE action_bindings (
    id           TEXT PRIMARY KEY,
    trigger_id   TEXT NOT NULL,
    position     INTEGER NOT NULL, -- the order the trigger runs its bindings in
    action_id    TEXT NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    secrets      TEXT NOT NULL DEFAULT '[]', -- [{name, value, updated_at}] set with the binding
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX action_bindings_trigger ON action_bindings (trigger_id, position);
CREATE INDEX action_bindings_action ON action_bindings (action_id);

-- +goose Down
DROP TABLE action_bindings;
DROP TABLE action_secrets;
DROP TABLE action_versions;
DROP TABLE actions;
