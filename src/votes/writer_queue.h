// WriterQueue: one process's writers, served first come first served, in
// groups (group commit). Every writer queues its job; the writer at the front
// becomes the leader and calls the batch runner, which gets ready (takes the
// database's lock), then takes the jobs queued behind the leader by then
// (bounded in count and bytes, in arrival order), runs them in one
// transaction and decides each job's outcome; then every job of the batch is
// complete and the next job in line leads the next batch. Knows
// nothing about databases, so it is tested with a fake runner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "core/status.h"

namespace beacon::votes {

struct WriterQueueLimits {
  // A batch holds at most this many jobs and at most this many bytes (a job
  // larger than max_batch_bytes still runs, alone). Both must be >= 1.
  size_t max_batch_jobs = 64;
  size_t max_batch_bytes = 256 * 1024;
};

// Safe for concurrent use by many threads.
class WriterQueue {
 public:
  using Clock = std::chrono::steady_clock;

  // One write waiting for its turn. The caller owns it and keeps it alive
  // until Submit returns; subclasses carry the work and its result.
  class Job {
   public:
    Job(size_t bytes, Clock::time_point deadline) : bytes_(bytes), deadline_(deadline) {}
    virtual ~Job() = default;
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    size_t bytes() const { return bytes_; }
    Clock::time_point deadline() const { return deadline_; }

   private:
    friend class WriterQueue;
    const size_t bytes_;
    const Clock::time_point deadline_;
    std::condition_variable cv_;  // done, or this job leads now
    bool taken_ = false;          // Guarded by mu_: in a batch being run
    bool done_ = false;           // Guarded by mu_: its batch has run, or it expired
    bool expired_ = false;        // Guarded by mu_: gave up before any batch took it
  };

  using Batch = std::vector<Job*>;  // jobs in arrival order, the leader's first
  // Takes the batch: with `everyone`, the leader's job and the jobs queued
  // behind it now (within the limits); otherwise the leader's job alone.
  using TakeBatch = std::function<const Batch&(bool everyone)>;
  // Runs one batch led by `leader`: gets ready (waiting at most until
  // leader.deadline()), then calls take(true), so that jobs that queued
  // meanwhile join, or take(false) when it could not get ready (so that only
  // the leader's job fails); calls take exactly once, stores each taken job's
  // outcome in the job, and returns when each has one. Called by the
  // leader's thread, never by two threads at once, without any lock of the
  // queue held.
  using BatchRunner = std::function<void(Job& leader, const TakeBatch& take)>;

  WriterQueue(WriterQueueLimits limits, BatchRunner run_batch);

  // Queues `job` and blocks until a batch holding it has run (Ok: the
  // runner stored its outcome in the job), or until its deadline passed
  // before any batch took it (kUnavailable "database busy for N ms" with
  // busy_ms; the job never ran). A job whose batch has started waits for
  // the batch to end even past its deadline: its outcome may commit. The
  // calling thread may run other callers' jobs meanwhile, as their leader.
  Status Submit(Job& job, int busy_ms);

  // Counters since construction, for tests and reports.
  struct Stats {
    int64_t batches = 0;
    int64_t jobs = 0;     // jobs run in batches
    int64_t expired = 0;  // jobs that gave up before running
    size_t largest_batch = 0;
  };
  Stats stats() const;

  // Jobs in the queue now, including those of the batch being run.
  size_t queued() const;

 private:
  // Takes the jobs to run next from the front, starting with `leader`
  // (bounded by limits_), marks them taken and returns them; completes the
  // jobs on the way whose deadline has passed as expired.
  Batch TakeJobs(Job* leader);  // Requires mu_

  const WriterQueueLimits limits_;
  const BatchRunner run_batch_;

  mutable std::mutex mu_;
  std::deque<Job*> queue_;  // Guarded by mu_: arrival order; the front leads
  Stats stats_;             // Guarded by mu_
};

}  // namespace beacon::votes
