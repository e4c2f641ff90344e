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
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "core/mutex.h"
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
    // Where the job is. Only kQueued -> kLeading, kQueued -> kTaken,
    // kQueued -> kExpired and kTaken -> kDone happen, each with both the
    // queue's mu_ and the job's held.
    enum class State {
      kQueued,   // waiting behind others
      kLeading,  // at the front: its thread runs the next batch
      kTaken,    // in a batch another thread runs
      kDone,     // its batch has run
      kExpired,  // gave up before any batch took it (its deadline passed)
    };
    const size_t bytes_;
    const Clock::time_point deadline_;
    // Its own lock (taken after the queue's, never before), so that its
    // thread waits on it alone; the annotation cannot name the mutex of the
    // queue the job is in.
    Mutex mu_;
    CondVar changed_;  // state_ changed
    State state_ GUARDED_BY(mu_) = State::kQueued;
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
  Status Submit(Job& job, int busy_ms) EXCLUDES(mu_);

  // Counters since construction, for tests and reports.
  struct Stats {
    int64_t batches = 0;
    int64_t jobs = 0;     // jobs run in batches
    int64_t expired = 0;  // jobs that gave up before running
    size_t largest_batch = 0;
  };
  Stats stats() const EXCLUDES(mu_);

  // Jobs in the queue now, including those of the batch being run.
  size_t queued() const EXCLUDES(mu_);

 private:
  using State = Job::State;

  // Blocks until `job` leads, its batch has run or it expired (returns that
  // state), or until its deadline passes while it still only waits in line
  // (returns kQueued).
  static State AwaitTurn(Job& job) EXCLUDES(job.mu_);
  // Sets `job`'s state and wakes its thread.
  static void Move(Job& job, State to) EXCLUDES(job.mu_);
  // The job now at the front, if any, leads.
  void WakeFront() REQUIRES(mu_);
  // Takes the jobs to run next from the front, starting with `leader`
  // (bounded by limits_), marks them taken and returns them; completes the
  // jobs on the way whose deadline has passed as expired.
  Batch TakeJobs(Job* leader) REQUIRES(mu_);

  const WriterQueueLimits limits_;
  const BatchRunner run_batch_;

  mutable Mutex mu_;
  std::deque<Job*> queue_ GUARDED_BY(mu_);  // arrival order; the front leads
  Stats stats_ GUARDED_BY(mu_);
};

}  // namespace beacon::votes
