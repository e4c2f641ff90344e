// SqliteVoteStore: the VoteStore on one SQLite file shared by every replica
// (WAL mode, so readers never wait for the writer). The vote SQL lives here;
// the machinery under it (connection pool, writer queue with group commit,
// transactions, background checkpoints) in sqlite_connection.h,
// writer_queue.h, sqlite_transaction.h and wal_checkpointer.h. The votes
// library is the only code in Beacon that includes SQLiteCpp; nothing
// SQLite-specific leaks out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "votes/vote_store.h"

namespace beacon::votes {

struct SqliteOptions {
  // How long one call may wait in total (in this process's writer queue, for
  // a free connection, and for another process's lock on the file) before it
  // gives up with kUnavailable, having changed nothing. The writes of one
  // batch wait for the file's lock until the earliest of their deadlines
  // (the first in line's, as all use the same timeout).
  int busy_deadline_ms = 2000;
  // At most this many connections are open; callers beyond it wait for one
  // to be returned (within busy_deadline_ms). Must be >= 1.
  size_t max_connections = 8;
  // Group commit: this process's concurrent writes wait in one FIFO queue,
  // and the writer at its front runs the writes queued behind it (at most
  // this many, of at most this many bytes of request text) in one
  // transaction. Both must be >= 1.
  size_t max_batch_writes = 64;
  size_t max_batch_bytes = 256 * 1024;
  // Background checkpoints (automatic ones are off): a PASSIVE checkpoint
  // once this many WAL frames (pages) were added since the last one, and a
  // RESTART checkpoint, which briefly holds writers back so the WAL can be
  // rewound, once the WAL is this long. 1 <= passive < restart.
  int checkpoint_after_frames = 1000;
  int restart_checkpoint_after_frames = 8000;
  // The longest a RESTART checkpoint waits for locks and readers before it
  // gives up and backs off (wal_checkpointer.h), 1..busy_deadline_ms.
  int restart_checkpoint_wait_ms = 100;
  // The writers of every process on this file take turns on a shared,
  // blocking writer turn ("<path>-writer", see writer_turn.h) before they ask
  // for SQLite's lock, instead of only polling that lock; while a leader
  // waits, its batch grows. false: SQLite's busy handler alone (for
  // comparison).
  bool writer_turn = true;
  // Test aid: every write transaction sleeps this long before COMMIT, so a
  // test can kill a replica inside a batch. 0 (the default) in production.
  int debug_hold_before_commit_us = 0;
};

// What the store did since it was opened (this process only).
struct SqliteStats {
  int64_t write_batches = 0;   // write transactions run by the writer queue
  int64_t batched_writes = 0;  // writes they ran
  int64_t expired_writes = 0;  // writes that gave up in the queue (busy)
  int64_t largest_batch = 0;
  int64_t queued_writes = 0;  // now: waiting in the queue or being run
  int64_t passive_checkpoints = 0;
  int64_t restart_checkpoints = 0;
  int64_t skipped_checkpoints = 0;  // another process's checkpoint was running
  int64_t avoided_restarts = 0;     // another process had rewound the WAL already
  int64_t blocked_restarts = 0;     // gave up waiting (e.g. for an old snapshot's reader)
  int64_t failed_checkpoints = 0;
  int64_t paced_batches = 0;
  int64_t longest_restart_us = 0;  // the longest RESTART checkpoint (writers wait)
  int64_t longest_passive_us = 0;  // batches that paused for a due RESTART checkpoint
  int64_t largest_wal_frames = 0;  // the longest WAL a commit of this process saw
  int64_t turn_waits = 0;          // batches that blocked for the taken writer turn
  int64_t turn_timeouts = 0;       // batches that gave up waiting for it (busy)
  int64_t turn_owner_died = 0;     // turns taken over from a holder that died
  int64_t turn_failures = 0;       // batches that found it unusable, ran without
};

// Safe for concurrent use by many threads; several processes may open the
// same file at once (their writes take turns on the writer turn and on
// SQLite's file lock).
class SqliteVoteStore final : public VoteStore {
 public:
  // Opens or creates the database at `path` and brings its schema up to
  // date (migrations embedded from db/*.sql, applied by PRAGMA user_version
  // inside BEGIN IMMEDIATE, so replicas starting together are safe), then
  // opens the writer turn file next to it (unless options.writer_turn is
  // false; its errors are WriterTurn::Open's, with the path). Always
  // performs a write, so a file that cannot be written fails here, not on the
  // first vote. kUnavailable naming the path and SQLite's reason when the
  // file cannot be opened, created or written, or stays locked past the
  // deadline; kInternal when its schema is newer than this build knows;
  // kInvalidArgument for bad options.
  static Result<std::unique_ptr<SqliteVoteStore>> Open(const std::string& path,
                                                       SqliteOptions options = {});

  // Closes every connection. No call may be in progress.
  ~SqliteVoteStore() override;

  SqliteVoteStore(const SqliteVoteStore&) = delete;
  SqliteVoteStore& operator=(const SqliteVoteStore&) = delete;

  // The schema version this build migrates to (the highest db/NNN_*.sql).
  static int LatestSchemaVersion();

  SqliteStats stats() const;

  // VoteStore. Besides the errors documented there: kUnavailable
  // ("database busy for N ms") when the call could not get the database
  // within busy_deadline_ms (nothing changed; safe to retry), kInternal with
  // SQLite's message on any other storage failure.
  Result<Poll> CreatePoll(const std::string& question,
                          const std::vector<std::string>& options,
                          const std::string& request_id, int64_t now_ms) override;
  Result<Receipt> CastVote(int64_t poll_id, const std::string& voter_id,
                           const std::string& option, const std::string& recorded_by,
                           int64_t now_ms) override;
  Result<PollResults> Results(int64_t poll_id) override;
  Result<std::vector<Poll>> ListPolls(int limit) override;
  Result<Poll> ClosePoll(int64_t poll_id) override;

 private:
  struct Machinery;  // pool, writer queue, checkpointer

  SqliteVoteStore(std::string path, SqliteOptions options);

  // Runs body(connection) -> Result<T> as one write of a group-committed
  // batch (see sqlite::WriteJob for `isolated`); returns once its batch has
  // committed or failed.
  template <class T, class Body>
  Result<T> Write(size_t bytes, bool isolated, Body&& body);
  // Runs body in a read transaction of its own.
  template <class T, class Body>
  Result<T> Read(Body&& body);

  const std::string path_;
  const SqliteOptions options_;
  std::unique_ptr<Machinery> machinery_;
};

}  // namespace beacon::votes
