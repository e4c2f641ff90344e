#include "votes/wal_checkpointer.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

namespace beacon::votes::sqlite {
namespace {

// How long the thread waits before trying again when a checkpoint could not
// run (another process's checkpoint held SQLite's checkpoint lock).
constexpr std::chrono::milliseconds kRetryPause{5};

}  // namespace

WalCheckpointer::WalCheckpointer(std::string path, CheckpointOptions options)
    : path_(std::move(path)), options_(options), thread_([this] { Loop(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::WalFrames(int frames) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.largest_wal_frames = std::max(stats_.largest_wal_frames, frames);
    wal_frames_ = frames;
    if (frames < copied_frames_) copied_frames_ = 0;  // the WAL was rewound
    if (!due_ && (frames - copied_frames_ >= options_.passive_after_frames ||
                  frames >= options_.restart_after_frames)) {
      due_ = true;
      wake = true;
    }
  }
  if (wake) wake_.notify_one();
}

void WalCheckpointer::PaceWriter() {
  constexpr std::chrono::milliseconds kMaxPace{2};
  std::unique_lock<std::mutex> lock(mu_);
  // A RESTART runs here, or is due and may run in another process (this
  // process's own PASSIVE checkpoint holds no lock a writer needs), or the
  // WAL is twice as long as it should get, whatever runs.
  const auto pace = [&] {
    return running_ == SQLITE_CHECKPOINT_RESTART ||
           (running_ != SQLITE_CHECKPOINT_PASSIVE &&
            wal_frames_ >= options_.restart_after_frames) ||
           wal_frames_ >= 2 * options_.restart_after_frames;
  };
  if (!pace()) return;
  ++stats_.paced;
  restarted_.wait_for(lock, kMaxPace, [&] { return !pace(); });
}

CheckpointStats WalCheckpointer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void WalCheckpointer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || due_; });
    if (stopping_) break;
    due_ = false;
    const int mode = wal_frames_ >= options_.restart_after_frames
                         ? SQLITE_CHECKPOINT_RESTART
                         : SQLITE_CHECKPOINT_PASSIVE;
    running_ = mode;
    lock.unlock();
    const bool ran = Checkpoint(mode);
    lock.lock();
    running_ = -1;
    // A PASSIVE checkpoint that ended with the WAL past the RESTART trigger
    // is followed by the RESTART at once.
    if (wal_frames_ >= options_.restart_after_frames) due_ = true;
    // Another process's checkpoint is running: try again after a pause,
    // not in a busy loop beside it.
    if (!ran) wake_.wait_for(lock, kRetryPause, [&] { return stopping_; });
    restarted_.notify_all();
  }
  lock.unlock();
  connection_.reset();
}

bool WalCheckpointer::Checkpoint(int mode) {
  const TimePoint deadline =
      SteadyClock::now() + std::chrono::milliseconds(options_.busy_ms);
  int rc = SQLITE_OK;
  std::string error;
  int log_frames = -1, copied = -1;
  const TimePoint start = SteadyClock::now();
  try {
    if (!connection_)
      connection_ = std::make_unique<Connection>(path_, deadline, nullptr);
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
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& longest = mode == SQLITE_CHECKPOINT_RESTART ? stats_.longest_restart_us
                                                       : stats_.longest_passive_us;
  longest = std::max(longest, took_us);
  if (copied >= 0) copied_frames_ = copied;
  if (rc == SQLITE_OK && mode == SQLITE_CHECKPOINT_RESTART) {
    // The next writer starts the WAL over; until its commit says so, take
    // the WAL as short, so writers stop pacing.
    wal_frames_ = 0;
    copied_frames_ = 0;
  }
  if (rc == SQLITE_OK) {
    ++(mode == SQLITE_CHECKPOINT_RESTART ? stats_.restart : stats_.passive);
  } else if (IsBusyCode(rc)) {
    ++stats_.skipped;
  } else {
    ++stats_.failed;
    stats_.last_error = error;
  }
  return rc == SQLITE_OK;
}

}  // namespace beacon::votes::sqlite
