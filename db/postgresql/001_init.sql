-- PostgreSQL: polls, their options and one vote per (poll, voter); the same
-- tables and rules as db/001_init.sql for SQLite.
-- Applied once, in one transaction under an advisory lock, when
-- beacon_schema_version holds a version < 1; the program then records 1.
-- Text columns use the "C" collation: options and voter ids compare byte
-- for byte, as in SQLite, and the indexes skip locale-aware comparison.
-- Rows are never deleted; identity ids are never reused, so a receipt's
-- vote_id names one vote forever (sequences may leave gaps, which is fine).

CREATE TABLE polls (
  poll_id        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  question       TEXT    COLLATE "C" NOT NULL,
  closed         BOOLEAN NOT NULL DEFAULT FALSE,
  created_at_ms  BIGINT  NOT NULL,
  -- Client-chosen idempotency key; NULL when the client gave none.
  request_id     TEXT    COLLATE "C" UNIQUE
);

CREATE TABLE poll_options (
  poll_id      BIGINT  NOT NULL REFERENCES polls (poll_id),
  position     INTEGER NOT NULL CHECK (position >= 0),
  option_text  TEXT    COLLATE "C" NOT NULL,
  PRIMARY KEY (poll_id, position),
  UNIQUE (poll_id, option_text)
);

CREATE TABLE votes (
  vote_id      BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  poll_id      BIGINT  NOT NULL,
  voter_id     TEXT    COLLATE "C" NOT NULL,
  option_text  TEXT    COLLATE "C" NOT NULL,
  cast_at_ms   BIGINT  NOT NULL,
  -- Instance id of the replica that recorded the vote.
  recorded_by  TEXT    NOT NULL,
  -- The one-vote-per-voter rule lives here, so it holds across replicas.
  UNIQUE (poll_id, voter_id),
  FOREIGN KEY (poll_id, option_text) REFERENCES poll_options (poll_id, option_text)
);

-- Results counts per option from this index alone (index-only scans once
-- the visibility map is set).
CREATE INDEX votes_by_poll_option ON votes (poll_id, option_text);
