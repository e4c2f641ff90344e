-- Votes as ONE B-tree (issue 15). Applied inside BEGIN IMMEDIATE when
-- PRAGMA user_version < 2, after 001_init.sql; converts a version-1
-- database in that one transaction, keeping every vote and its vote_id.
--
-- Why: with several replicas on one file, SQLite drops a connection's page
-- cache whenever another process committed, so every vote reads again every
-- page it touches. Version 1 wrote three B-trees per vote (the rowid table,
-- the UNIQUE (poll_id, voter_id) index and votes_by_poll_option); now a vote
-- writes the votes table keyed by (poll_id, voter_id), plus the one-row
-- vote_ids page once per batch.
--
-- What it costs: results counts a poll's votes by scanning that poll's key
-- range of votes (O(votes in the poll), as the COUNT over the old index was,
-- but over whole rows instead of index entries: README, Performance).
--
-- A replica built for version 1 must not open this file again (it would
-- find the newer version and refuse; README, Known limits).

-- The last vote_id given out. A vote takes (SELECT last + 1) in its INSERT and
-- the trigger below moves `last` in the same statement, so an id is taken
-- only by a row really inserted (ON CONFLICT DO NOTHING fires no trigger), a
-- failed statement undoes both, and ids are never reused: rows are never
-- deleted and `last` only grows. One row, one page: dirtied once per batch.
-- (AUTOINCREMENT would do the same through sqlite_sequence; a WITHOUT ROWID
-- table has no rowid to give.)
CREATE TABLE vote_ids (
  only_row  INTEGER PRIMARY KEY CHECK (only_row = 1),
  last      INTEGER NOT NULL CHECK (last >= 0)
);

CREATE TABLE votes_v2 (
  poll_id      INTEGER NOT NULL,
  voter_id     TEXT    NOT NULL,
  -- Unique forever by vote_ids, not by an index (that would be a second
  -- B-tree per vote again); names the vote in its receipt.
  vote_id      INTEGER NOT NULL,
  option_text  TEXT    NOT NULL,
  cast_at_ms   INTEGER NOT NULL,
  -- Instance id of the replica that recorded the vote.
  recorded_by  TEXT    NOT NULL,
  -- The one-vote-per-voter rule is the key, so it holds across replicas.
  PRIMARY KEY (poll_id, voter_id),
  FOREIGN KEY (poll_id, option_text) REFERENCES poll_options (poll_id, option_text)
) WITHOUT ROWID;

INSERT INTO votes_v2 (poll_id, voter_id, vote_id, option_text, cast_at_ms, recorded_by)
  SELECT poll_id, voter_id, vote_id, option_text, cast_at_ms, recorded_by FROM votes;

INSERT INTO vote_ids (only_row, last)
  SELECT 1, COALESCE(MAX(vote_id), 0) FROM votes;

DROP INDEX votes_by_poll_option;
DROP TABLE votes;
ALTER TABLE votes_v2 RENAME TO votes;

-- max(): a vote inserted by hand with its own vote_id (a repair in the
-- sqlite3 shell) still leaves `last` above every id in the table.
CREATE TRIGGER votes_take_id AFTER INSERT ON votes
BEGIN
  UPDATE vote_ids SET last = max(last, NEW.vote_id);
END;
