// WriterTurn: a turn to write to one SQLite file, shared by every process
// that opens the same turn file, that waiters block on instead of polling.
//
// SQLite's write lock has no queue: a process that finds it taken sleeps in
// its busy handler and asks again, so the lock sits free while waiters
// sleep, and each failed attempt costs system calls. The turn is a robust,
// process-shared pthread mutex in a small file mapped MAP_SHARED (by
// convention "<db>-writer"), so a waiter sleeps on a futex and is woken when
// the holder lets go. It works for processes in separate containers that
// share the file on one kernel; not over a network file system.
//
// The turn only orders writers that use it; SQLite's lock still decides
// correctness. A writer takes the turn BEFORE it asks for SQLite's lock
// (BEGIN IMMEDIATE) and lets go of it AFTER its COMMIT or ROLLBACK, and
// never waits for the turn while it holds SQLite's lock, so writers that do
// not use the turn (a checkpoint, an sqlite3 shell) cannot deadlock with it;
// they still wait in SQLite's busy handler. A holder that dies (SIGKILL)
// passes the turn on: the next taker is told (Stats::owner_died) and goes on,
// since SQLite rolls back the dead writer's transaction itself. A holder that
// is stopped (SIGSTOP) keeps it: waiters give up at their deadlines.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace beacon::votes {

// Safe for concurrent use by many threads; the thread that acquired the turn
// must be the one that releases it.
class WriterTurn {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens the turn file at `path`, creating and initialising it when it is
  // absent, empty or a zero-filled file left by an opener that died while
  // initialising it. Several processes (and threads) may open the same path
  // at once: initialisation runs under an open-file-description lock on the
  // file, waited for until `deadline`. Errors: kUnavailable naming the path
  // and the system's reason when the file cannot be opened, created, locked
  // before `deadline` or mapped; kInternal naming the path when the file
  // exists but is not a turn file of this build (wrong size, magic, version
  // or mutex layout): remove it while no process uses it.
  static Result<std::unique_ptr<WriterTurn>> Open(const std::string& path,
                                                  Clock::time_point deadline);

  // Unmaps the file. The calling process must not hold the turn.
  ~WriterTurn();
  WriterTurn(const WriterTurn&) = delete;
  WriterTurn& operator=(const WriterTurn&) = delete;

  // Blocks until the calling thread holds the turn (Ok; also when the
  // previous holder died holding it), or until `deadline` passes
  // (kUnavailable "writer turn not free within the deadline"). kInternal
  // when the turn is unusable (the mutex is not recoverable; callers may go
  // on without the turn, under SQLite's lock alone). Must not be called by a
  // thread that holds the turn already.
  [[nodiscard]] Status Acquire(Clock::time_point deadline);
  // Lets go of the turn the calling thread holds.
  void Release();

  // Counters of this object since it was opened.
  struct Stats {
    int64_t acquired = 0;    // Acquire calls that got the turn
    int64_t waited = 0;      // Acquire calls that found it taken and blocked (also
                             // those that then timed out)
    int64_t timed_out = 0;   // Acquire calls that gave up at their deadline
    int64_t owner_died = 0;  // turns taken over from a holder that died
    int64_t failed = 0;      // Acquire calls that found the turn unusable
  };
  Stats stats() const;

  const std::string& path() const { return path_; }

 private:
  struct Shared;  // the mapped file's layout
  WriterTurn(std::string path, int fd, Shared* shared);

  const std::string path_;
  const int fd_;
  Shared* const shared_;  // mapped MAP_SHARED; unmapped by the destructor
  std::atomic<int64_t> acquired_{0};
  std::atomic<int64_t> waited_{0};
  std::atomic<int64_t> timed_out_{0};
  std::atomic<int64_t> owner_died_{0};
  std::atomic<int64_t> failed_{0};
};

}  // namespace beacon::votes
