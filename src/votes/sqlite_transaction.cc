#include "votes/sqlite_transaction.h"

#include <algorithm>
#include <thread>

namespace beacon::votes::sqlite {

Status Busy(int busy_ms) {
  return Unavailable("database busy for " + std::to_string(busy_ms) + " ms");
}

Status StatusOf(const SQLite::Exception& e, int busy_ms, StorageFailure failure) {
  if (IsBusyCode(e.getErrorCode())) return Busy(busy_ms);
  const StatusCode code = failure == StorageFailure::kUnavailable
                              ? StatusCode::kUnavailable
                              : StatusCode::kInternal;
  return Status(code, std::string("sqlite: ") + e.what());
}

namespace {

// Runs one job's body inside the open transaction. Returns false when the
// transaction itself is gone (SQLite rolled it back), with the reason in
// *fatal.
bool RunJob(Connection& connection, WriteJob& job, int busy_ms, Status* fatal) {
  try {
    if (job.isolated()) connection.Savepoint();
    job.outcome = job.Run(connection);
    if (job.isolated()) {
      if (job.outcome.ok()) {
        connection.ReleaseSavepoint();
      } else {
        connection.RollbackToSavepoint();
      }
    }
    return true;
  } catch (const SQLite::Exception& e) {
    job.outcome = StatusOf(e, busy_ms, StorageFailure::kInternal);
  } catch (const std::exception& e) {
    job.outcome = Internal(std::string("vote store: ") + e.what());
  }
  // A failed statement undid itself; an isolated job's earlier writes are
  // undone here. Some errors (I/O, full disk) end the whole transaction.
  try {
    if (connection.InTransaction() && job.isolated()) connection.RollbackToSavepoint();
  } catch (const SQLite::Exception& e) {
    *fatal = StatusOf(e, busy_ms, StorageFailure::kInternal);
    return false;
  }
  if (!connection.InTransaction()) {
    *fatal = job.outcome;
    return false;
  }
  return true;
}

// Holds the writer turn, if any, until it goes out of scope.
class TurnHold {
 public:
  ~TurnHold() {
    if (held_ != nullptr) held_->Release();
  }
  // Busy when the turn was not free by `deadline`; ok otherwise, also when
  // the turn is unusable (then SQLite's lock alone orders the writers).
  Status Take(WriterTurn* turn, TimePoint deadline, int busy_ms) {
    if (turn == nullptr) return Status::Ok();
    const Status s = turn->Acquire(deadline);
    if (s.ok()) {
      held_ = turn;
    } else if (s.code() == StatusCode::kUnavailable) {
      return Busy(busy_ms);
    }
    return Status::Ok();
  }

 private:
  WriterTurn* held_ = nullptr;
};

}  // namespace

void RunWriteBatch(ConnectionPool& pool, const BatchOptions& options,
                   WriterQueue::Job& leader, const WriterQueue::TakeBatch& take) {
  const WriterQueue::Batch* taken = nullptr;
  Status fatal;
  try {
    // Declared first, so let go of last: after the lease has rolled back
    // whatever was left open.
    TurnHold turn;
    ConnectionPool::Lease connection;
    fatal = pool.Acquire(leader.deadline(), options.busy_ms, &connection);
    if (fatal.ok()) fatal = turn.Take(options.turn, leader.deadline(), options.busy_ms);
    if (fatal.ok()) {
      connection->Begin(/*write=*/true);
      taken = &take(/*everyone=*/true);
      for (WriterQueue::Job* job : *taken) {
        if (!RunJob(*connection, static_cast<WriteJob&>(*job), options.busy_ms, &fatal)) {
          break;
        }
      }
      if (fatal.ok()) {
        if (options.hold_before_commit.count() > 0) {
          std::this_thread::sleep_for(options.hold_before_commit);
        }
        connection->Commit();
        for (WriterQueue::Job* job : *taken)
          static_cast<WriteJob*>(job)->committed = true;
        return;
      }
    }
  } catch (const SQLite::Exception& e) {
    fatal = StatusOf(e, options.busy_ms, StorageFailure::kInternal);
  } catch (const std::exception& e) {
    fatal = Internal(std::string("vote store: ") + e.what());
  }
  // Nothing of the batch is stored (the lease rolled back whatever was open).
  if (taken == nullptr) taken = &take(/*everyone=*/false);
  for (WriterQueue::Job* job : *taken) {
    auto* write = static_cast<WriteJob*>(job);
    write->committed = false;
    write->outcome = fatal;
  }
}

}  // namespace beacon::votes::sqlite
