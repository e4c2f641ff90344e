// SqliteVoteStore: the VoteStore on one SQLite file shared by every replica
// (WAL mode, so readers never wait for the writer). The only code in Beacon
// that includes SQLiteCpp; nothing SQLite-specific leaks out of this header.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "votes/vote_store.h"

namespace beacon::votes {

struct SqliteOptions {
  // How long one call may wait in total (for a free connection, this
  // process's writer turn, and another process's lock on the file) before it
  // gives up with kUnavailable, having changed nothing.
  int busy_deadline_ms = 2000;
  // At most this many connections are open; callers beyond it wait for one
  // to be returned (within busy_deadline_ms). Must be >= 1.
  size_t max_connections = 8;
};

// Safe for concurrent use by many threads; several processes may open the
// same file at once (their writes take turns on SQLite's file lock).
class SqliteVoteStore final : public VoteStore {
 public:
  // Opens or creates the database at `path` and brings its schema up to
  // date (migrations embedded from db/*.sql, applied by PRAGMA user_version
  // inside BEGIN IMMEDIATE, so replicas starting together are safe). Always
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
  class Connection;  // one SQLite connection with its prepared statements
  class Call;        // one call's deadline, connection and transaction

  SqliteVoteStore(std::string path, SqliteOptions options);

  const std::string path_;
  const SqliteOptions options_;

  // Writers inside this process take turns (waiting at most until the
  // call's deadline) instead of contending for the file lock through
  // SQLite's busy handler. A turn lasts one whole write transaction,
  // including its wait for another process's lock: by design, since the next
  // writer of this process would only wait for the same lock. (A flag and a
  // condition variable rather than std::timed_mutex, whose timed lock
  // ThreadSanitizer cannot see.)
  std::mutex writer_mu_;
  std::condition_variable writer_cv_;  // the writer turn was given back
  bool writer_turn_taken_ = false;     // Guarded by writer_mu_

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;                // a connection was returned or dropped
  std::vector<std::unique_ptr<Connection>> idle_;  // Guarded by pool_mu_
  size_t open_connections_ = 0;                    // Guarded by pool_mu_
};

}  // namespace beacon::votes
