#include "votes/sqlite_connection.h"

#include <sqlite3.h>

#include <algorithm>
#include <thread>
#include <utility>

namespace beacon::votes::sqlite {
namespace {

// Busy-handler sleeps: short at first (another process's write transaction
// takes tens of microseconds), doubling up to a cap, each jittered so waiting
// processes do not retry in lock-step. SQLite's file lock has no queue: a
// waiter only gets it by asking while it is free, so a long sleep loses
// races to busier processes. Measured with 3 processes writing flat out on
// this 2-core machine: a 1 ms cap gave a worst vote of 20-60 ms, 200 us gave
// 6-20 ms at the same throughput.
constexpr std::chrono::microseconds kFirstBusySleep{20};
constexpr std::chrono::microseconds kMaxBusySleep{200};

// One use of a reused statement: starts from a clean slate and is reset
// afterwards, also when it throws, so no statement keeps a lock past its use.
void Execute(SQLite::Statement& statement) {
  struct ResetOnExit {
    SQLite::Statement& s;
    ~ResetOnExit() { s.tryReset(); }
  } reset{statement};
  statement.tryReset();
  statement.exec();
}

}  // namespace

bool IsBusyCode(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

Connection::Connection(const std::string& path, TimePoint deadline, WalObserver* observer)
    : db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX),
      deadline_(deadline),
      observer_(observer),
      rng_(std::random_device{}()) {
  // Installed before anything touches the file: even switching to WAL may
  // wait for another process that is creating the database.
  sqlite3_busy_handler(
      db_.getHandle(),
      [](void* self, int attempts) {
        return static_cast<Connection*>(self)->WaitBeforeRetry(attempts) ? 1 : 0;
      },
      this);
  const std::string mode = EnableWal();
  if (mode != "wal") {
    throw SQLite::Exception("cannot use WAL journal mode (got \"" + mode +
                                "\"); the path must name a file on a local disk",
                            SQLITE_CANTOPEN);
  }
  db_.exec("PRAGMA synchronous = NORMAL");
  db_.exec("PRAGMA foreign_keys = ON");
  // No checkpoint inside a commit: SQLite's automatic checkpoint (every
  // 1,000 WAL pages) made whichever vote crossed the threshold pay for two
  // fdatasyncs, about 40 % of a writer's time. WalCheckpointer runs them in
  // the background instead; the WAL hook below tells it how long the WAL is.
  // (The hook replaces the automatic checkpoint's own hook; the pragma says
  // so explicitly, and must come first since it installs a hook itself.)
  db_.exec("PRAGMA wal_autocheckpoint = 0");
  sqlite3_wal_hook(
      db_.getHandle(),
      [](void* self, sqlite3*, const char*, int frames) {
        WalObserver* to_tell = static_cast<Connection*>(self)->observer_;
        if (to_tell != nullptr) to_tell->WalFrames(frames);
        return SQLITE_OK;
      },
      this);
  begin_immediate_ = std::make_unique<SQLite::Statement>(db_, "BEGIN IMMEDIATE");
  begin_deferred_ = std::make_unique<SQLite::Statement>(db_, "BEGIN");
  commit_ = std::make_unique<SQLite::Statement>(db_, "COMMIT");
  rollback_ = std::make_unique<SQLite::Statement>(db_, "ROLLBACK");
  savepoint_ = std::make_unique<SQLite::Statement>(db_, "SAVEPOINT request");
  release_ = std::make_unique<SQLite::Statement>(db_, "RELEASE request");
  rollback_to_ = std::make_unique<SQLite::Statement>(db_, "ROLLBACK TO request");
}

// Statements go before the database they were prepared on.
Connection::~Connection() {
  state_.reset();
  begin_immediate_.reset();
  begin_deferred_.reset();
  commit_.reset();
  rollback_.reset();
  savepoint_.reset();
  release_.reset();
  rollback_to_.reset();
}

void Connection::Begin(bool write) { Run(write ? *begin_immediate_ : *begin_deferred_); }
void Connection::Commit() { Run(*commit_); }
void Connection::Rollback() { Run(*rollback_); }
void Connection::Savepoint() { Run(*savepoint_); }
void Connection::ReleaseSavepoint() { Run(*release_); }
void Connection::RollbackToSavepoint() {
  Run(*rollback_to_);
  Run(*release_);
}

void Connection::Run(SQLite::Statement& statement) { Execute(statement); }

bool Connection::InTransaction() const {
  return sqlite3_get_autocommit(db_.getHandle()) == 0;
}

bool Connection::RollbackIfOpen() noexcept {
  if (!InTransaction()) return true;
  rollback_->tryReset();
  const int rc = rollback_->tryExecuteStep();
  rollback_->tryReset();
  return rc == SQLITE_DONE && !InTransaction();
}

// Switching a database into WAL mode needs an exclusive lock, and SQLite
// reports SQLITE_BUSY for it at once, without calling the busy handler,
// when other connections are opening the same fresh file (seen with six
// processes racing to create it). So it is retried here, under the same
// deadline. Returns the journal mode now in effect.
std::string Connection::EnableWal() {
  for (int attempt = 0;; ++attempt) {
    try {
      return db_.execAndGet("PRAGMA journal_mode = WAL").getString();
    } catch (const SQLite::Exception& e) {
      if (!IsBusyCode(e.getErrorCode()) || !WaitBeforeRetry(attempt)) throw;
    }
  }
}

bool Connection::WaitBeforeRetry(int attempts) {
  const TimePoint now = SteadyClock::now();
  if (now >= deadline_) return false;
  const auto cap = std::min<std::chrono::microseconds>(
      kMaxBusySleep, kFirstBusySleep * (int64_t{1} << std::min(attempts, 10)));
  std::uniform_int_distribution<int64_t> jitter(cap.count() / 2, cap.count());
  const std::chrono::microseconds sleep{jitter(rng_)};
  std::this_thread::sleep_for(std::min<SteadyClock::duration>(sleep, deadline_ - now));
  return true;
}

ConnectionPool::ConnectionPool(std::string path, size_t max_connections,
                               WalObserver* observer)
    : path_(std::move(path)), max_connections_(max_connections), observer_(observer) {}

ConnectionPool::~ConnectionPool() = default;

Status ConnectionPool::Acquire(TimePoint deadline, int busy_ms, Lease* out) {
  std::unique_ptr<Connection> idle;
  {
    MutexLock lock(mu_);
    while (idle_.empty() && open_ >= max_connections_) {
      if (returned_.WaitUntil(mu_, deadline) && idle_.empty() &&
          open_ >= max_connections_) {
        return Unavailable("no free database connection within " +
                           std::to_string(busy_ms) + " ms");
      }
    }
    if (!idle_.empty()) {
      idle = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // opened below, outside the lock
    }
  }
  if (idle) {
    idle->set_deadline(deadline);
    *out = Lease(this, std::move(idle));
    return Status::Ok();
  }
  try {
    *out = Lease(this, std::make_unique<Connection>(path_, deadline, observer_));
  } catch (...) {
    {
      MutexLock lock(mu_);
      --open_;
    }
    returned_.NotifyOne();
    throw;
  }
  return Status::Ok();
}

void ConnectionPool::Return(std::unique_ptr<Connection> connection) noexcept {
  const bool usable = connection->RollbackIfOpen();
  {
    MutexLock lock(mu_);
    if (usable) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  }
  returned_.NotifyOne();
  // An unusable connection closes here, outside the lock.
}

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Return();
    pool_ = other.pool_;
    connection_ = std::move(other.connection_);
    other.pool_ = nullptr;
  }
  return *this;
}

ConnectionPool::Lease::~Lease() { Return(); }

void ConnectionPool::Lease::Return() noexcept {
  if (connection_) pool_->Return(std::move(connection_));
  pool_ = nullptr;
}

}  // namespace beacon::votes::sqlite
