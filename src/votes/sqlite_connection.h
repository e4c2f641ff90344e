// The SQLite machinery under SqliteVoteStore, kept apart from the vote SQL:
// one connection with Beacon's pragmas and deadline-bounded busy handler
// (Connection), a bounded pool of them (ConnectionPool), and the WAL size
// observer that connections report every commit to. Private to the votes
// library (it includes SQLiteCpp).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

namespace beacon::votes::sqlite {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// SQLITE_BUSY or SQLITE_LOCKED, extended codes included.
bool IsBusyCode(int code);

// Told the WAL's length in frames after every commit of a connection that
// has it (see WalCheckpointer). Called on the committing thread, so it must
// be quick and must not touch the database. Safe for concurrent use.
class WalObserver {
 public:
  virtual ~WalObserver() = default;
  virtual void WalFrames(int frames) = 0;
};

// What an owner keeps on a connection between uses (its prepared
// statements). Built from the connection's database on first use.
class ConnectionState {
 public:
  virtual ~ConnectionState() = default;
};

// One SQLite connection: WAL mode, synchronous=NORMAL, foreign keys on,
// automatic checkpoints off (WalCheckpointer runs them in the background),
// and a busy handler that sleeps short jittered intervals until the
// deadline of the call using it. Not thread-safe: one thread at a time
// (checked out of the pool for the length of one call or batch).
class Connection {
 public:
  // Throws SQLite::Exception when the file cannot be opened or set up
  // (SQLITE_CANTOPEN when it cannot use WAL). `observer` may be null and
  // must outlive the connection.
  Connection(const std::string& path, TimePoint deadline, WalObserver* observer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  SQLite::Database& db() { return db_; }
  void set_deadline(TimePoint deadline) { deadline_ = deadline; }

  // The owner's state, built as State(db()) on first use.
  template <class State>
  State& state() {
    if (!state_) state_ = std::make_unique<State>(db_);
    return static_cast<State&>(*state_);
  }

  // BEGIN IMMEDIATE for writes: takes the write lock up front, so a write
  // transaction never has to upgrade a read lock (which fails without
  // calling the busy handler when another writer got in between).
  // All throw SQLite::Exception.
  void Begin(bool write);
  void Commit();
  void Rollback();
  // One savepoint at a time, inside a transaction.
  void Savepoint();
  void ReleaseSavepoint();
  void RollbackToSavepoint();

  bool InTransaction() const;
  // Rolls back an open transaction; false when the connection is unusable.
  bool RollbackIfOpen() noexcept;

  // Sleeps a jittered, growing interval (never past the deadline); false
  // when the deadline has passed and the caller should give up.
  bool WaitBeforeRetry(int attempts);

 private:
  void Run(SQLite::Statement& statement);
  std::string EnableWal();

  SQLite::Database db_;
  TimePoint deadline_;  // of the call that has the connection checked out
  WalObserver* const observer_;
  std::minstd_rand rng_;
  std::unique_ptr<SQLite::Statement> begin_immediate_;
  std::unique_ptr<SQLite::Statement> begin_deferred_;
  std::unique_ptr<SQLite::Statement> commit_;
  std::unique_ptr<SQLite::Statement> rollback_;
  std::unique_ptr<SQLite::Statement> savepoint_;
  std::unique_ptr<SQLite::Statement> release_;
  std::unique_ptr<SQLite::Statement> rollback_to_;
  std::unique_ptr<ConnectionState> state_;
};

// At most max_connections open connections to one file, handed to one
// caller at a time. Safe for concurrent use.
class ConnectionPool {
 public:
  // `observer` (may be null) is given to every connection and must outlive
  // the pool.
  ConnectionPool(std::string path, size_t max_connections, WalObserver* observer);
  ~ConnectionPool();

  // A checked-out connection, returned to the pool when destroyed (rolled
  // back first; dropped when that fails).
  class Lease {
   public:
    Lease() = default;
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    Connection* operator->() { return connection_.get(); }
    Connection& operator*() { return *connection_; }

   private:
    void Return() noexcept;
    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<Connection> connection_;
  };

  // An idle connection, a new one while fewer than max_connections are
  // open, or the next one returned before `deadline` (kUnavailable "no free
  // database connection within N ms" with busy_ms otherwise). The lease's
  // busy handler waits until `deadline`. Throws SQLite::Exception when a new
  // connection cannot be opened.
  Status Acquire(TimePoint deadline, int busy_ms, Lease* out) EXCLUDES(mu_);

  const std::string& path() const { return path_; }

 private:
  void Return(std::unique_ptr<Connection> connection) noexcept EXCLUDES(mu_);

  const std::string path_;
  const size_t max_connections_;
  WalObserver* const observer_;

  Mutex mu_;
  CondVar returned_;  // a connection was returned or dropped
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(mu_);
  size_t open_ GUARDED_BY(mu_) = 0;
};

}  // namespace beacon::votes::sqlite
