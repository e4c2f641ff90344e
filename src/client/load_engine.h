// LoadEngine: the one closed-loop load runner of Beacon. `client_app load`,
// every benchmark scenario and the fault tests' steady traffic run on it.
// N threads each own one LoadWorker (one simulated client: a Session, or a
// benchmark's plain Thrift connections) and call back to back. The engine
// runs phases: in each, every worker calls until the phase's time is up, its
// shared call budget is spent, the engine's per-worker bound is reached or
// Stop() is called; between phases the workers stay alive (connections
// open), so two engines can take turns (the benchmarks' interleaving).
// Everything is bounded: a phase in time and count, a worker in count.
// Transport-free: operations are pluggable through LoadWorker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "stats/latency_histogram.h"

namespace beacon::client {

// What one call came to.
struct CallOutcome {
  const char* op = "call";  // operation name, for per-operation figures
  Status status;            // ok, or the call's final error
  std::string served_by;    // the replica that answered, when the reply says
};

// One simulated client. Created on, and only used by, its own thread.
class LoadWorker {
 public:
  virtual ~LoadWorker() = default;
  // Makes one call and says how it went; never throws.
  virtual CallOutcome Call() = 0;
  // Calls retried on another server after a transport failure so far (0 for
  // clients without failover).
  virtual int64_t Retries() const { return 0; }
  // Counters of the worker's own (e.g. "registry_lookups"), read at the end
  // of every phase and summed into LoadTally::counters.
  virtual std::map<std::string, int64_t> Counters() const { return {}; }
};

// Makes thread `index`'s worker, on that thread. A failure counts as a setup
// failure of that thread, which then makes no calls.
using LoadWorkerFactory = std::function<Result<std::unique_ptr<LoadWorker>>(int index)>;

// The figures of one or more phases. Not thread-safe.
struct LoadTally {
  int64_t ok = 0;
  int64_t failed = 0;
  // Every counted call, failed ones included (a failure that took the whole
  // timeout belongs in the tail), overall and by operation.
  stats::LatencyHistogram latency;
  std::map<std::string, stats::LatencyHistogram> latency_by_op;
  std::map<std::string, int64_t> ok_by_op;        // operation -> ok calls
  std::map<std::string, int64_t> per_replica;     // served_by -> ok calls
  std::map<std::string, int64_t> errors_by_code;  // StatusCodeName -> failed calls
  std::string first_error;                        // "code: message" of the first failure
  // The workers' own counters (LoadWorker::Counters), summed at phase ends.
  std::map<std::string, int64_t> counters;
  // CPU time the calling threads used during counted phases (the client's
  // own cost; background threads such as a session's watch not included).
  double client_cpu_us = 0;

  void Merge(const LoadTally& other);
  int64_t calls() const { return ok + failed; }
  // True when at least one call failed and every failure was kUnavailable.
  bool AllFailuresUnavailable() const;
};

struct LoadPhase {
  // Every worker stops starting calls this long after the phase starts. Must
  // be > 0: no phase is unbounded in time.
  double seconds = 1.0;
  // Calls the phase may start in total over all workers; 0 for no budget.
  int64_t max_calls = 0;
  // False: a warm-up; calls are made but not tallied.
  bool counted = true;
  // Called (briefly: the engine holds its lock meanwhile) on the thread that
  // runs the phase about every progress_interval_s
  // with the calls completed in this phase so far and the seconds elapsed.
  std::function<void(int64_t calls, double seconds)> progress;
  double progress_interval_s = 0.25;
};

struct LoadPhaseResult {
  LoadTally tally;
  // From the phase's start to the end of its last counted call (0 when no
  // call was counted): the throughput's denominator.
  double seconds = 0;
  double Throughput() const { return seconds > 0 ? tally.ok / seconds : 0; }
};

// Thread-safety: Run() from one thread at a time; Stop(), calls_completed()
// and calls_failed() from any thread.
class LoadEngine {
 public:
  // Starts `threads` threads (1..4096); each creates its worker through
  // `factory` on its own thread. Returns once every worker is created (ok or
  // not). A worker makes at most max_calls_per_worker calls over the
  // engine's life (warm-ups included).
  LoadEngine(int threads, LoadWorkerFactory factory,
             int64_t max_calls_per_worker = 20'000'000);
  ~LoadEngine();  // Stop(), then joins the threads (their workers are destroyed on them)

  LoadEngine(const LoadEngine&) = delete;
  LoadEngine& operator=(const LoadEngine&) = delete;

  int threads() const { return static_cast<int>(slots_.size()); }
  // Why each worker that could not be created failed (empty when all were).
  std::vector<Status> setup_errors() const;
  // LoadWorker::Retries() summed over the workers, as of their last call.
  int64_t retries() const;

  // Runs one phase on every worker that was created and blocks until all of
  // them have finished it. After Stop(), returns at once with nothing run.
  LoadPhaseResult Run(const LoadPhase& phase);

  // Ends the phase in progress (calls in flight finish) and every later one.
  void Stop();

  // Calls completed and failed since the engine started (counted or not).
  int64_t calls_completed() const { return completed_.load(std::memory_order_relaxed); }
  int64_t calls_failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  struct Slot;
  using SteadyTime = std::chrono::steady_clock::time_point;

  void RunThread(Slot& slot, int index, const LoadWorkerFactory& factory);
  void RunPhase(Slot& slot, LoadWorker& worker, const LoadPhase& phase, SteadyTime start,
                SteadyTime end);

  const int64_t max_calls_per_worker_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> completed_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> issued_{0};  // in the current phase, against its budget

  mutable Mutex mu_;
  CondVar cv_;
  int ready_ GUARDED_BY(mu_) = 0;  // threads done with set-up
  int done_ GUARDED_BY(mu_) = 0;   // threads done with the phase
  uint64_t phase_number_ GUARDED_BY(mu_) = 0;
  LoadPhase phase_ GUARDED_BY(mu_);  // (copied by each thread)
  SteadyTime phase_start_ GUARDED_BY(mu_);
  SteadyTime phase_end_ GUARDED_BY(mu_);
  bool shutting_down_ GUARDED_BY(mu_) = false;
};

}  // namespace beacon::client
