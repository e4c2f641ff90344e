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
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&job);
  while (!job.done_ && queue_.front() != &job) {
    if (job.taken_) {  // in a batch now: its outcome may commit, so wait for it
      job.cv_.wait(lock);
      continue;
    }
    if (job.cv_.wait_until(lock, job.deadline_) == std::cv_status::timeout &&
        !job.done_ && !job.taken_ && queue_.front() != &job) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), &job));
      ++stats_.expired;
      return Busy(busy_ms);
    }
  }
  if (job.done_) return job.expired_ ? Busy(busy_ms) : Status::Ok();

  // At the front: this thread leads, unless its own time is up.
  if (Clock::now() >= job.deadline_) {
    queue_.pop_front();
    ++stats_.expired;
    if (!queue_.empty()) queue_.front()->cv_.notify_one();
    return Busy(busy_ms);
  }
  job.taken_ = true;
  lock.unlock();
  Batch batch;
  bool taken = false;
  run_batch_(job, [&](bool everyone) -> const Batch& {
    std::lock_guard<std::mutex> take_lock(mu_);
    if (!taken) {
      batch = everyone ? TakeJobs(&job) : Batch{&job};
      taken = true;
      ++stats_.batches;
      stats_.jobs += static_cast<int64_t>(batch.size());
      stats_.largest_batch = std::max(stats_.largest_batch, batch.size());
    }
    return batch;
  });
  lock.lock();
  if (!taken) batch = {&job};  // a runner that never took: the leader alone
  // The batch is the front of the queue: later jobs only join at the back,
  // and a taken job never leaves on its own.
  queue_.erase(queue_.begin(),
               queue_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
  for (Job* done : batch) {
    done->done_ = true;
    // Notified under the lock: once it sees done_ its owner may destroy it.
    if (done != &job) done->cv_.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv_.notify_one();
  return Status::Ok();
}

WriterQueue::Batch WriterQueue::TakeJobs(Job* leader) {
  Batch batch;
  size_t bytes = 0;
  const Clock::time_point now = Clock::now();
  auto it = queue_.begin();
  while (it != queue_.end() && batch.size() < limits_.max_batch_jobs) {
    Job* next = *it;
    if (next != leader && next->deadline_ <= now) {
      next->expired_ = true;
      next->done_ = true;
      ++stats_.expired;
      next->cv_.notify_one();
      it = queue_.erase(it);
      continue;
    }
    if (!batch.empty() && bytes + next->bytes_ > limits_.max_batch_bytes) break;
    bytes += next->bytes_;
    next->taken_ = true;
    batch.push_back(next);
    ++it;
  }
  return batch;
}

WriterQueue::Stats WriterQueue::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

size_t WriterQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

}  // namespace beacon::votes
