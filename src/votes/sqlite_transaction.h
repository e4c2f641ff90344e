// Transactions of SqliteVoteStore, apart from its SQL: a single transaction
// on a pooled connection (reads, and opening), and the batch runner behind
// the writer queue (group commit): one BEGIN IMMEDIATE ... COMMIT for every
// write of a batch, each write decided on its own. Private to the votes
// library.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "votes/sqlite_connection.h"
#include "votes/writer_queue.h"
#include "votes/writer_turn.h"

namespace beacon::votes::sqlite {

// What a storage failure other than "busy" means: a bug or surprise during
// normal calls (kInternal), but an unusable file (unopenable, read-only, not
// a database) while opening (kUnavailable).
enum class StorageFailure { kInternal, kUnavailable };

// kUnavailable "database busy for N ms".
Status Busy(int busy_ms);

// The status for an SQLite exception: Busy() for SQLITE_BUSY/LOCKED, else
// `failure`'s code with "sqlite: " and SQLite's message.
Status StatusOf(const SQLite::Exception& e, int busy_ms, StorageFailure failure);

// Runs body(connection) -> Result<T> in one transaction on a connection from
// `pool` (BEGIN IMMEDIATE when `write`, else a deferred read transaction),
// waiting for the connection and the lock until `deadline`: committed when
// the body returns ok, rolled back when it returns an error or throws. Every
// exception becomes a status (see StatusOf).
template <class T, class Body>
Result<T> RunTransaction(ConnectionPool& pool, bool write, TimePoint deadline,
                         int busy_ms, StorageFailure failure, Body&& body) {
  try {
    ConnectionPool::Lease connection;
    if (Status s = pool.Acquire(deadline, busy_ms, &connection); !s.ok()) return s;
    connection->Begin(write);
    Result<T> result = body(*connection);
    if (result.ok()) {
      connection->Commit();
    } else {
      connection->Rollback();
    }
    return result;
  } catch (const SQLite::Exception& e) {
    return StatusOf(e, busy_ms, failure);
  } catch (const std::exception& e) {
    return Internal(std::string("vote store: ") + e.what());
  }
}

// One write waiting in the writer queue. `body` runs inside the batch's
// transaction and returns the request's own outcome; an error outcome must
// leave the database as it found it: a body that may fail after writing is
// `isolated` (run inside its own savepoint, rolled back to it on error),
// while a body whose only write is its last statement needs no savepoint
// (SQLite undoes a failed statement by itself), which saves two statements.
class WriteJob final : public WriterQueue::Job {
 public:
  using Body = std::function<Status(Connection&)>;
  WriteJob(size_t bytes, TimePoint deadline, bool isolated, Body body)
      : Job(bytes, deadline), isolated_(isolated), body_(std::move(body)) {}

  bool isolated() const { return isolated_; }
  Status Run(Connection& connection) { return body_(connection); }

  // Set by RunWriteBatch. committed: the batch's transaction committed, so
  // an ok outcome is durable. outcome: the body's status, or the error that
  // stopped it or its batch (then nothing of this job is stored).
  bool committed = false;
  Status outcome;

 private:
  const bool isolated_;
  const Body body_;
};

struct BatchOptions {
  int busy_ms = 2000;
  // The processes' shared writer turn, taken before BEGIN IMMEDIATE and let
  // go after COMMIT or ROLLBACK (see writer_turn.h); null: none, writers
  // poll SQLite's lock alone. Not owned.
  WriterTurn* turn = nullptr;
  // Test aid: sleep this long inside the transaction before COMMIT, so a
  // test can kill a process in the middle of a batch. 0 in production.
  std::chrono::microseconds hold_before_commit{0};
};

// The WriterQueue::BatchRunner for WriteJobs: a connection from `pool`, the
// writer turn when there is one, and BEGIN IMMEDIATE (waiting for each until
// the leader's deadline; a turn found unusable is done without), then the
// batch (take(true): the writes that queued while it waited join it), every
// job's body in arrival order, COMMIT. A job's error affects only that job;
// a failure of the transaction itself (COMMIT, or an error that made SQLite
// roll everything back) fails every job of the batch with it, and none is
// committed. When the connection, the turn or the lock cannot be had, only the
// leader's job fails (take(false)); the others wait on with their own
// deadlines.
void RunWriteBatch(ConnectionPool& pool, const BatchOptions& options,
                   WriterQueue::Job& leader, const WriterQueue::TakeBatch& take);

}  // namespace beacon::votes::sqlite
