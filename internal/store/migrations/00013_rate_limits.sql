-- Rate limits every instance shares, such as password-change requests per
-- email: one row per key holding when its budget is whole again (the
-- theoretical arrival time of the generic cell rate algorithm, in ms).

-- +goose Up
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    full_at BIGINT NOT NULL
);
CREATE INDEX rate_limits_full_at ON rate_limits (full_at);

-- +goose Down
DROP TABLE rate_limits;
