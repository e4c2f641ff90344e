#include "votes/wal_checkpointer.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

namespace beacon::votes::sqlite {
namespace {

// How long the thread waits before trying again when a checkpoint could not
// run (another process's checkpoint held SQLite's checkpoint lock).
constexpr std::chrono::milliseconds kRetryPause{5};
// The longest pause after RESTARTs that gave up waiting (see the header).
constexpr std::chrono::milliseconds kMaxRestartPause{2000};

}  // namespace

WalCheckpointer::WalCheckpointer(std::string path, CheckpointOptions options)
    : path_(std::move(path)), options_(options), thread_([this] { Loop(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyOne();
  thread_.join();
}

void WalCheckpointer::WalFrames(int frames) {
  bool wake = false;
  {
    MutexLock lock(mu_);
    stats_.largest_wal_frames = std::max(stats_.largest_wal_frames, frames);
    wal_frames_ = frames;
    if (frames < copied_frames_) copied_frames_ = 0;  // the WAL was rewound
    if (!due_ && (frames - copied_frames_ >= options_.passive_after_frames ||
                  frames >= options_.restart_after_frames)) {
      due_ = true;
      wake = true;
    }
  }
  if (wake) wake_.NotifyOne();
}

void WalCheckpointer::PaceWriter() {
  constexpr std::chrono::milliseconds kMaxPace{2};
  MutexLock lock(mu_);
  // A RESTART runs here, or is due and may run in another process or after
  // this process's PASSIVE (a PASSIVE holds no lock a writer needs, but
  // what writers append meanwhile lengthens the WAL and the RESTART), or
  // the WAL is twice as long as it should get, whatever runs.
  const auto pace = [&] {
    mu_.AssertHeld();
    return running_ == SQLITE_CHECKPOINT_RESTART ||
           ((((running_ != SQLITE_CHECKPOINT_PASSIVE || restart_round_) &&
              wal_frames_ >= options_.restart_after_frames) ||
             wal_frames_ >= 2 * options_.restart_after_frames) &&
            !RestartPausedLocked());
  };
  if (!pace()) return;
  ++stats_.paced;
  restarted_.WaitFor(mu_, kMaxPace, [&] { return !pace(); });
}

bool WalCheckpointer::RestartPausedLocked() const {
  return restart_pause_.count() > 0 && SteadyClock::now() < restart_paused_until_;
}

CheckpointStats WalCheckpointer::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

void WalCheckpointer::Loop() {
  bool after_skip = false;  // the last round's checkpoint could not run
  while (true) {
    bool restart_due = false;
    bool verify = false;
    {
      MutexLock lock(mu_);
      wake_.Wait(mu_, [&] {
        mu_.AssertHeld();
        return stopping_ || due_;
      });
      if (stopping_) break;
      due_ = false;
      restart_due =
          wal_frames_ >= options_.restart_after_frames && !RestartPausedLocked();
      // A RESTART that could not run because another connection's
      // checkpoint ran is not simply tried again: that one may have been a
      // RESTART, and once a writer rewound the WAL, this process's view of
      // its length (its last commit's, made before) is stale. A PASSIVE
      // first reports the WAL as it is, and the RESTART follows only if it
      // is still long. Measured with three replicas under load: retrying
      // blindly made 8 of 18 RESTARTs run on a WAL already rewound, each
      // holding every writer back for its fsyncs (up to 66 ms with another
      // process writing to the disk).
      verify = restart_due && after_skip;
      restart_round_ = restart_due;
    }
    Outcome outcome;
    if (!restart_due || verify) outcome = Checkpoint(SQLITE_CHECKPOINT_PASSIVE);
    bool restart = restart_due && !verify;
    if (verify && outcome.ran) {
      MutexLock lock(mu_);
      wal_frames_ = outcome.wal_frames;
      restart = wal_frames_ >= options_.restart_after_frames;
      if (!restart) ++stats_.restart_avoided;
    }
    if (restart) outcome = Checkpoint(SQLITE_CHECKPOINT_RESTART);
    after_skip = !outcome.ran;
    {
      MutexLock lock(mu_);
      running_ = -1;
      restart_round_ = false;
      // A PASSIVE checkpoint that ended with the WAL past the RESTART
      // trigger is followed by the RESTART at once.
      if (wal_frames_ >= options_.restart_after_frames) due_ = true;
      if (outcome.blocked) {
        // Waited restart_wait_ms for a lock or a reader (header): no RESTART
        // and no pacing for a while, longer each time.
        ++stats_.restart_blocked;
        restart_pause_ = std::min<SteadyClock::duration>(
            kMaxRestartPause, restart_pause_.count() > 0
                                  ? 2 * restart_pause_
                                  : std::chrono::milliseconds(options_.restart_wait_ms));
        restart_paused_until_ = SteadyClock::now() + restart_pause_;
        due_ = false;
        while (!stopping_ && SteadyClock::now() < restart_paused_until_) {
          wake_.WaitUntil(mu_, restart_paused_until_);
        }
        // The WAL is still long: the next round checks and RESTARTs.
        if (wal_frames_ >= options_.restart_after_frames) due_ = true;
      } else if (!outcome.ran) {
        // Another process's checkpoint is running: try again after a pause,
        // not in a busy loop beside it.
        wake_.WaitFor(mu_, kRetryPause, [&] {
          mu_.AssertHeld();
          return stopping_;
        });
      }
    }
    restarted_.NotifyAll();
  }
  connection_.reset();
}

WalCheckpointer::Outcome WalCheckpointer::Checkpoint(int mode) {
  {
    MutexLock lock(mu_);
    running_ = mode;
  }
  const TimePoint start = SteadyClock::now();
  const TimePoint deadline =
      start + std::chrono::milliseconds(mode == SQLITE_CHECKPOINT_RESTART
                                            ? options_.restart_wait_ms
                                            : options_.busy_ms);
  int rc = SQLITE_OK;
  std::string error;
  int log_frames = -1, copied = -1;
  try {
    if (!connection_) {
      connection_ = std::make_unique<Connection>(
          path_, start + std::chrono::milliseconds(options_.busy_ms), nullptr);
    }
    connection_->set_deadline(deadline);
    rc = sqlite3_wal_checkpoint_v2(connection_->db().getHandle(), "main", mode,
                                   &log_frames, &copied);
    if (rc != SQLITE_OK) error = sqlite3_errmsg(connection_->db().getHandle());
  } catch (const SQLite::Exception& e) {
    rc = e.getErrorCode();
    error = e.what();
    connection_.reset();
  }
  const int64_t took_us =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start)
          .count();
  MutexLock lock(mu_);
  int64_t& longest = mode == SQLITE_CHECKPOINT_RESTART ? stats_.longest_restart_us
                                                       : stats_.longest_passive_us;
  longest = std::max(longest, took_us);
  if (copied >= 0) copied_frames_ = copied;
  if (rc == SQLITE_OK && mode == SQLITE_CHECKPOINT_RESTART) {
    // The next writer starts the WAL over; until its commit says so, take
    // the WAL as short, so writers stop pacing.
    wal_frames_ = 0;
    copied_frames_ = 0;
    restart_pause_ = SteadyClock::duration::zero();
  }
  if (rc == SQLITE_OK) {
    ++(mode == SQLITE_CHECKPOINT_RESTART ? stats_.restart : stats_.passive);
  } else if (IsBusyCode(rc)) {
    ++stats_.skipped;
  } else {
    ++stats_.failed;
    stats_.last_error = error;
  }
  // A RESTART that found SQLite's checkpoint lock taken returns at once;
  // one that gives up after waiting its whole time was blocked.
  const bool blocked = IsBusyCode(rc) && mode == SQLITE_CHECKPOINT_RESTART &&
                       took_us >= int64_t{options_.restart_wait_ms} * 1000;
  return Outcome{rc == SQLITE_OK, blocked, log_frames, copied};
}

}  // namespace beacon::votes::sqlite
