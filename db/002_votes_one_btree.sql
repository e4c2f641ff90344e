-- Votes as ONE B-tree (issue 15). Applied inside BEGIN IMMEDIATE when
-- PRAGMA user_version < 2, after 001_init.sql; converts a version-1
-- database in that one transaction, keeping every vote and its vote_id.
--
-- Why: with several replicas on one file, SQLite drops a connection's page
-- cache whenever another process committed, so every vote reads again every
-- page it touches. Version 1 wrote three B-trees per vote (the rowid table,
-- the UNIQUE (poll_id, voter_id) index and votes_by_poll_option); now a vote
-- writes the votes table keyed by (poll_id, voter_id) alone.
--
-- What it costs: results counts a poll's votes by scanning that poll's key
-- range of votes (O(votes in the poll), as the COUNT over the old index was,
-- but over whole rows instead of index entries: README, Performance).
--
-- A replica built for version 1 must not open this file again (it would
-- find the newer version and refuse; README, Known limits).

-- The highest vote_id reserved so far. A replica reserves ids a block at a
-- time (last = last + 1024, in the transaction of the batch that needs
-- them) and gives them to new votes only: a repeat or a conflicting vote
-- takes none. Reserved blocks never overlap and rows are never deleted, so a
-- vote_id names one vote forever; ids are not in commit order, and a
-- replica that stops leaves the rest of its block unused. (Taking one id per
-- vote from this row, as AUTOINCREMENT would from sqlite_sequence, writes a
-- second page per batch: 40-53 against 34-37 us of CPU per vote in a
-- standalone program, 3 processes, 2 votes per batch.) A vote added by hand
-- must take its id the same way: UPDATE vote_ids SET last = last + 1, then
-- use last.
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
