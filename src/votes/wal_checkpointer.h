// WalCheckpointer: the checkpoints of one process's connections to an
// SQLite file, run on a background thread of their own instead of inside
// some vote's COMMIT. Connections report the WAL's length after every
// commit (WalObserver); once passive_after_frames frames were added since
// the last checkpoint it runs a PASSIVE checkpoint (copies what it can into
// the database without ever waiting for, or blocking, a writer or reader).
// Writers keep appending meanwhile, so under sustained load the WAL may
// never be fully copied at the moment a writer starts, which is when SQLite
// rewinds it; when the WAL reaches restart_after_frames it therefore runs a
// RESTART checkpoint, which holds writers back (through their busy
// handlers, up to busy_ms) while it copies the rest, syncs and waits for
// readers, so that the next writer rewinds the WAL. A RESTART that found
// another connection's checkpoint running is retried only after a PASSIVE
// one shows the WAL still that long (another replica's RESTART may have had
// it rewound; counted as restart_avoided). SQLite's locks are not fair,
// though: writers that take the lock again the moment they release it
// starve the RESTART's busy handler. So while a RESTART runs or is due, the
// writers pace themselves (PaceWriter: a short pause before each batch,
// ended early when the checkpoint is done), also during that PASSIVE. That
// keeps the WAL near restart_after_frames, and under twice that while a
// long PASSIVE checkpoint delays the RESTART.
//
// A RESTART also waits for readers of older snapshots, and SQLite holds
// new writers back all the while. A reader that keeps an old snapshot (a
// replica stopped inside a read, an sqlite3 shell in a transaction) would
// so stop every writer for busy_ms, again at every retry. So a RESTART
// waits at most restart_wait_ms; one that gives up after waiting that long
// (counted as restart_blocked) is not tried again, and writers do not pace
// for it, until a pause that doubles with each such RESTART (from
// restart_wait_ms up to kMaxRestartPause) has passed; a RESTART that runs
// ends the pauses. Meanwhile the WAL grows: no checkpoint can rewind it
// while that reader keeps its snapshot anyway.
//
// Several processes on one file each have one: SQLite lets one checkpoint
// run at a time, and a PASSIVE one finding another running returns at once
// (counted as skipped), so they never pile up. Durability is unchanged: a
// committed transaction is in the WAL, which a checkpoint only copies from.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/mutex.h"
#include "votes/sqlite_connection.h"

namespace beacon::votes::sqlite {

struct CheckpointOptions {
  // SQLite's own automatic checkpoint runs every 1,000 frames.
  int passive_after_frames = 1000;
  int restart_after_frames = 8000;  // about 32 MB with 4 KiB pages
  int busy_ms = 2000;               // longest wait to open the checkpoint's connection
  // Longest a RESTART waits for the write lock and for readers (holding
  // writers back meanwhile). Must be >= 1.
  int restart_wait_ms = 100;
};

// Counters since construction.
struct CheckpointStats {
  int64_t passive = 0;             // PASSIVE checkpoints run
  int64_t restart = 0;             // RESTART checkpoints run
  int64_t skipped = 0;             // found another connection's checkpoint running
  int64_t restart_avoided = 0;     // due, but a PASSIVE found the WAL rewound
  int64_t restart_blocked = 0;     // gave up after restart_wait_ms (a lock or a reader)
  int64_t paced = 0;               // writer pauses while a RESTART was due
  int64_t failed = 0;              // any other error (the next trigger tries again)
  int largest_wal_frames = 0;      // the longest WAL any commit reported
  int64_t longest_restart_us = 0;  // writers wait for a RESTART checkpoint
  int64_t longest_passive_us = 0;
  std::string last_error;
};

// Starts its thread in the constructor, stops and joins it in the
// destructor. Safe for concurrent use.
class WalCheckpointer final : public WalObserver {
 public:
  WalCheckpointer(std::string path, CheckpointOptions options);
  ~WalCheckpointer() override;
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // WalObserver: wakes the thread when a checkpoint is due.
  void WalFrames(int frames) override EXCLUDES(mu_);

  // Called by a writer before it starts a transaction: returns at once
  // unless this process's RESTART checkpoint runs, or the WAL (as this
  // process's last commit saw it) reached restart_after_frames while this
  // process runs no PASSIVE one (so a RESTART may be waiting in another
  // process), or reached twice that; then waits until that changes or 2 ms have passed,
  // so that the RESTART can get the write lock between two transactions.
  void PaceWriter() EXCLUDES(mu_);

  CheckpointStats stats() const EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);
  struct Outcome {
    bool ran = false;        // false when it could not run or failed
    bool blocked = false;    // a RESTART that gave up after restart_wait_ms
    int wal_frames = -1;     // the WAL's length when it ran
    int copied_frames = -1;  // frames of it now in the database
  };
  // Runs one checkpoint (SQLITE_CHECKPOINT_PASSIVE or _RESTART), marked as
  // running meanwhile, and counts it.
  Outcome Checkpoint(int mode) EXCLUDES(mu_);
  // A blocked RESTART's pause has not passed yet.
  bool RestartPausedLocked() const REQUIRES(mu_);

  const std::string path_;
  const CheckpointOptions options_;

  mutable Mutex mu_;
  CondVar wake_;
  CondVar restarted_;  // a checkpoint ended
  bool stopping_ GUARDED_BY(mu_) = false;
  bool due_ GUARDED_BY(mu_) = false;            // a checkpoint should run
  int running_ GUARDED_BY(mu_) = -1;            // SQLITE_CHECKPOINT_* running now, or -1
  bool restart_round_ GUARDED_BY(mu_) = false;  // the round began with a RESTART due
  int wal_frames_ GUARDED_BY(mu_) = 0;          // as last reported
  int copied_frames_ GUARDED_BY(mu_) = 0;  // WAL frames copied by the last checkpoint
  // No RESTART, and no pacing for one, before this (see above).
  TimePoint restart_paused_until_ GUARDED_BY(mu_){};
  SteadyClock::duration restart_pause_ GUARDED_BY(mu_){};  // the last pause, or 0
  CheckpointStats stats_ GUARDED_BY(mu_);
  std::unique_ptr<Connection> connection_;  // only the thread uses it
  std::thread thread_;
};

}  // namespace beacon::votes::sqlite
