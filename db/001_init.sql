-- Polls, their options and one vote per (poll, voter).
-- Applied once, inside BEGIN IMMEDIATE, when PRAGMA user_version < 1; the
-- program then sets user_version = 1. Text is stored verbatim (BINARY
-- collation: options and voter ids compare byte for byte).
-- Rows are never deleted, so ids (rowids) are never reused: a receipt's
-- vote_id names one vote forever. votes skips AUTOINCREMENT on purpose: it
-- would add a fourth page write (sqlite_sequence) to every vote, about a
-- quarter of a vote's cost here.
-- 002_votes_one_btree.sql replaces votes and its indexes by one WITHOUT
-- ROWID table (a vote then writes one B-tree); this file stays as it was, so
-- version-1 databases and new ones are built alike.

CREATE TABLE polls (
  poll_id        INTEGER PRIMARY KEY AUTOINCREMENT,
  question       TEXT    NOT NULL,
  closed         INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
  created_at_ms  INTEGER NOT NULL,
  -- Client-chosen idempotency key; NULL when the client gave none.
  request_id     TEXT    UNIQUE
);

CREATE TABLE poll_options (
  poll_id      INTEGER NOT NULL REFERENCES polls (poll_id),
  position     INTEGER NOT NULL CHECK (position >= 0),
  option_text  TEXT    NOT NULL,
  PRIMARY KEY (poll_id, position),
  UNIQUE (poll_id, option_text)
) WITHOUT ROWID;

CREATE TABLE votes (
  vote_id      INTEGER PRIMARY KEY,
  poll_id      INTEGER NOT NULL,
  voter_id     TEXT    NOT NULL,
  option_text  TEXT    NOT NULL,
  cast_at_ms   INTEGER NOT NULL,
  -- Instance id of the replica that recorded the vote.
  recorded_by  TEXT    NOT NULL,
  -- The one-vote-per-voter rule lives here, so it holds across replicas.
  UNIQUE (poll_id, voter_id),
  FOREIGN KEY (poll_id, option_text) REFERENCES poll_options (poll_id, option_text)
);

-- Results counts per option from this index alone.
CREATE INDEX votes_by_poll_option ON votes (poll_id, option_text);
