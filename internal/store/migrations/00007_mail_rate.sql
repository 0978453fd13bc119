-- The mail delivery cap (USHER_MAIL_RATE): the one window every instance on
-- this database shares, and how many mails were claimed in it. Claims under
-- a cap lock this row, so that instances together never exceed the cap.

-- +goose Up
CREATE TABLE mail_rate (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    window_start BIGINT NOT NULL, -- ms; 0: no window opened yet
    claimed      INTEGER NOT NULL
);
INSERT INTO mail_rate (id, window_start, claimed) VALUES (1, 0, 0);

-- +goose Down
DROP TABLE mail_rate;
