#include "load_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <time.h>

namespace beacon::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

SteadyClock::duration Seconds(double s) {
  return std::chrono::microseconds(static_cast<int64_t>(s * 1e6));
}

// One thread's tallies, merged after the run (no sharing while it runs).
struct ThreadTally {
  stats::LatencyHistogram latency;
  std::map<std::string, int64_t> per_replica;
  std::map<std::string, int64_t> errors_by_kind;
  std::string first_error;
  int64_t ok = 0;
  int64_t errors = 0;
  int64_t calls = 0;                    // warm-up included, for the bound
  double cpu_us = 0;                    // thread CPU time in counted phases
  int64_t retries = 0;
  SteadyClock::time_point last_end{};   // end of its last counted call in this phase
  bool setup_failed = false;
};

// One turn of one side: its threads call from start until end.
struct Phase {
  uint64_t number = 0;  // 0: none yet
  size_t side = 0;
  bool counted = false;  // false: warm-up
  SteadyClock::time_point start{};
  SteadyClock::time_point end{};
};

// Coordinates the worker threads of every side: at most one side runs at a
// time; the controller starts a phase and waits until all of that side's
// threads have finished it.
class Turns {
 public:
  explicit Turns(int threads_per_side) : per_side_(threads_per_side) {}

  // Worker side: report ready (setup done, ok or not).
  void Ready() {
    std::lock_guard<std::mutex> lock(mu_);
    ++ready_;
    cv_.notify_all();
  }

  // Worker side: waits for the next phase of `side` after `seen`; false
  // when the run is over.
  bool Next(size_t side, uint64_t seen, Phase* phase) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || (phase_.number > seen && phase_.side == side); });
    if (stop_) return false;
    *phase = phase_;
    return true;
  }

  // Worker side: this thread has finished its phase.
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    cv_.notify_all();
  }

  // Controller side.
  void WaitAllReady(int total) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return ready_ == total; });
  }
  // Runs one phase of `side` and returns when all its threads are done.
  // Threads whose setup failed count as done at once (see Skip).
  void Run(size_t side, bool counted, double seconds, int skipped) {
    std::unique_lock<std::mutex> lock(mu_);
    done_ = skipped;
    phase_.number++;
    phase_.side = side;
    phase_.counted = counted;
    phase_.start = SteadyClock::now();
    phase_.end = phase_.start + Seconds(seconds);
    cv_.notify_all();
    cv_.wait(lock, [&] { return done_ >= per_side_; });
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  Phase Current() {
    std::lock_guard<std::mutex> lock(mu_);
    return phase_;
  }

 private:
  const int per_side_;
  std::mutex mu_;
  std::condition_variable cv_;
  int ready_ = 0;     // Guarded by mu_
  int done_ = 0;      // Guarded by mu_
  bool stop_ = false; // Guarded by mu_
  Phase phase_;       // Guarded by mu_
};

}  // namespace

nlohmann::json LoadResult::Metrics() const {
  return nlohmann::json{{"tput", Throughput()},
                        {"ok", ok},
                        {"errors", errors + setup_failures},
                        {"seconds", seconds},
                        {"p50_us", latency.Percentile(0.50)},
                        {"p90_us", latency.Percentile(0.90)},
                        {"p99_us", latency.Percentile(0.99)},
                        {"p999_us", latency.Percentile(0.999)},
                        {"max_us", latency.max()},
                        {"mean_us", latency.mean()},
                        {"retries", retries},
                        {"client_cpu_us_per_call",
                         latency.count() > 0 ? client_cpu_us / latency.count() : 0.0}};
}

std::vector<LoadResult> RunInterleaved(const LoadSpec& spec,
                                       const std::vector<WorkerFactory>& factories,
                                       bool reverse_first) {
  const size_t sides = factories.size();
  const size_t per_side = static_cast<size_t>(spec.threads);
  Turns turns(spec.threads);
  std::vector<ThreadTally> tallies(sides * per_side);
  std::vector<std::thread> threads;
  threads.reserve(tallies.size());
  for (size_t side = 0; side < sides; ++side) {
    for (size_t i = 0; i < per_side; ++i) {
      threads.emplace_back([&, side, i] {
        ThreadTally& t = tallies[side * per_side + i];
        auto worker = factories[side](static_cast<int>(i));
        if (!worker.ok()) {
          t.setup_failed = true;
          t.first_error = worker.status().ToString();
        }
        turns.Ready();
        if (!worker.ok()) return;
        LoadWorker& w = **worker;
        Phase phase;
        while (turns.Next(side, phase.number, &phase)) {
          t.last_end = phase.start;
          const double cpu_start = ThreadCpuMicros();
          while (t.calls < spec.max_calls_per_thread) {
            const auto t0 = SteadyClock::now();
            if (t0 >= phase.end) break;
            CallOutcome out = w.Call();
            const auto t1 = SteadyClock::now();
            ++t.calls;
            if (!phase.counted) continue;
            t.latency.Record(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
            t.last_end = t1;
            if (out.ok) {
              ++t.ok;
              ++t.per_replica[out.served_by];
            } else {
              ++t.errors;
              ++t.errors_by_kind[out.error];
              if (t.first_error.empty()) t.first_error = out.error + ": " + out.message;
            }
          }
          if (phase.counted) t.cpu_us += ThreadCpuMicros() - cpu_start;
          turns.Done();
        }
        t.retries = w.Retries();
      });
    }
  }

  turns.WaitAllReady(static_cast<int>(tallies.size()));
  std::vector<int> failed(sides, 0);
  for (size_t side = 0; side < sides; ++side) {
    for (size_t i = 0; i < per_side; ++i) failed[side] += tallies[side * per_side + i].setup_failed;
  }
  std::vector<double> seconds(sides, 0);
  // Per-thread last_end is written by the worker before Done() and read by
  // the controller after Run() returns (ordered by the mutex).
  auto phase_seconds = [&](size_t side, const Phase& phase) {
    SteadyClock::time_point last = phase.start;
    for (size_t i = 0; i < per_side; ++i) last = std::max(last, tallies[side * per_side + i].last_end);
    return std::chrono::duration<double>(last - phase.start).count();
  };
  for (size_t side = 0; side < sides; ++side) {
    turns.Run(side, /*counted=*/false, spec.warmup_s, failed[side]);
  }
  const int slices = std::max(1, static_cast<int>(std::lround(spec.measure_s / spec.slice_s)));
  const double slice_s = spec.measure_s / slices;
  for (int k = 0; k < slices; ++k) {
    const bool reversed = (k % 2 == 1) != reverse_first;
    for (size_t j = 0; j < sides; ++j) {
      const size_t side = reversed ? sides - 1 - j : j;
      turns.Run(side, /*counted=*/true, slice_s, failed[side]);
      seconds[side] += phase_seconds(side, turns.Current());
    }
  }
  turns.Stop();
  for (auto& th : threads) th.join();

  std::vector<LoadResult> results(sides);
  for (size_t side = 0; side < sides; ++side) {
    LoadResult& r = results[side];
    r.threads = spec.threads;
    r.seconds = seconds[side];
    for (size_t i = 0; i < per_side; ++i) {
      const ThreadTally& t = tallies[side * per_side + i];
      if (t.setup_failed) {
        ++r.setup_failures;
        if (r.first_error.empty()) r.first_error = "setup: " + t.first_error;
        continue;
      }
      r.latency.Merge(t.latency);
      r.ok += t.ok;
      r.errors += t.errors;
      r.client_cpu_us += t.cpu_us;
      r.retries += t.retries;
      for (const auto& [k, v] : t.per_replica) r.per_replica[k] += v;
      for (const auto& [k, v] : t.errors_by_kind) r.errors_by_kind[k] += v;
      if (r.first_error.empty()) r.first_error = t.first_error;
    }
  }
  return results;
}

LoadResult RunClosedLoop(const LoadSpec& spec, const WorkerFactory& factory) {
  LoadSpec one = spec;
  one.slice_s = spec.measure_s;  // a single window
  return std::move(RunInterleaved(one, {factory}).front());
}

}  // namespace beacon::bench
