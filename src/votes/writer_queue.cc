#include "votes/writer_queue.h"

#include <algorithm>
#include <string>
#include <utility>

namespace beacon::votes {
namespace {

Status Busy(int busy_ms) {
  return Unavailable("database busy for " + std::to_string(busy_ms) + " ms");
}

}  // namespace

WriterQueue::WriterQueue(WriterQueueLimits limits, BatchRunner run_batch)
    : limits_(limits), run_batch_(std::move(run_batch)) {}

Status WriterQueue::Submit(Job& job, int busy_ms) {
  {
    MutexLock lock(mu_);
    queue_.push_back(&job);
    if (queue_.front() == &job) Move(job, State::kLeading);
  }
  while (true) {
    const State state = AwaitTurn(job);
    if (state == State::kDone) return Status::Ok();
    if (state == State::kExpired) return Busy(busy_ms);
    if (state == State::kLeading) break;
    // Its deadline passed in line: it leaves, unless a batch took it or it
    // came to lead meanwhile.
    MutexLock lock(mu_);
    MutexLock job_lock(job.mu_);
    if (job.state_ == State::kQueued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), &job));
      ++stats_.expired;
      return Busy(busy_ms);
    }
  }

  // At the front: this thread leads, unless its own time is up.
  if (Clock::now() >= job.deadline_) {
    MutexLock lock(mu_);
    queue_.pop_front();
    ++stats_.expired;
    WakeFront();
    return Busy(busy_ms);
  }
  Batch batch;
  bool taken = false;
  run_batch_(job, [&](bool everyone) -> const Batch& {
    MutexLock take_lock(mu_);
    if (!taken) {
      batch = everyone ? TakeJobs(&job) : Batch{&job};
      taken = true;
      ++stats_.batches;
      stats_.jobs += static_cast<int64_t>(batch.size());
      stats_.largest_batch = std::max(stats_.largest_batch, batch.size());
    }
    return batch;
  });
  MutexLock lock(mu_);
  if (!taken) batch = {&job};  // a runner that never took: the leader alone
  // The batch is the front of the queue: later jobs only join at the back,
  // and a taken job never leaves on its own.
  queue_.erase(queue_.begin(),
               queue_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
  for (Job* done : batch) {
    if (done != &job) Move(*done, State::kDone);
  }
  WakeFront();
  return Status::Ok();
}

WriterQueue::State WriterQueue::AwaitTurn(Job& job) {
  MutexLock lock(job.mu_);
  while (true) {
    if (job.state_ == State::kTaken) {  // its outcome may commit: wait for it
      job.changed_.Wait(job.mu_);
      continue;
    }
    if (job.state_ != State::kQueued) return job.state_;
    if (job.changed_.WaitUntil(job.mu_, job.deadline_) && job.state_ == State::kQueued) {
      return State::kQueued;
    }
  }
}

void WriterQueue::Move(Job& job, State to) {
  MutexLock lock(job.mu_);
  job.state_ = to;
  // Notified under its lock: once its thread sees kDone or kExpired, the
  // owner may destroy the job.
  job.changed_.NotifyOne();
}

void WriterQueue::WakeFront() {
  if (!queue_.empty()) Move(*queue_.front(), State::kLeading);
}

WriterQueue::Batch WriterQueue::TakeJobs(Job* leader) {
  Batch batch;
  size_t bytes = 0;
  const Clock::time_point now = Clock::now();
  auto it = queue_.begin();
  while (it != queue_.end() && batch.size() < limits_.max_batch_jobs) {
    Job* next = *it;
    if (next != leader && next->deadline_ <= now) {
      ++stats_.expired;
      it = queue_.erase(it);
      Move(*next, State::kExpired);
      continue;
    }
    if (!batch.empty() && bytes + next->bytes_ > limits_.max_batch_bytes) break;
    bytes += next->bytes_;
    if (next != leader) Move(*next, State::kTaken);
    batch.push_back(next);
    ++it;
  }
  return batch;
}

WriterQueue::Stats WriterQueue::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

size_t WriterQueue::queued() const {
  MutexLock lock(mu_);
  return queue_.size();
}

}  // namespace beacon::votes
