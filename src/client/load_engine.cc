#include "client/load_engine.h"

#include <time.h>

#include <algorithm>
#include <chrono>

namespace beacon::client {
namespace {

using SteadyClock = std::chrono::steady_clock;

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

}  // namespace

void LoadTally::Merge(const LoadTally& other) {
  ok += other.ok;
  failed += other.failed;
  latency.Merge(other.latency);
  for (const auto& [op, h] : other.latency_by_op) latency_by_op[op].Merge(h);
  for (const auto& [k, v] : other.ok_by_op) ok_by_op[k] += v;
  for (const auto& [k, v] : other.per_replica) per_replica[k] += v;
  for (const auto& [k, v] : other.counters) counters[k] += v;
  for (const auto& [k, v] : other.errors_by_code) errors_by_code[k] += v;
  if (first_error.empty()) first_error = other.first_error;
  client_cpu_us += other.client_cpu_us;
}

bool LoadTally::AllFailuresUnavailable() const {
  return failed > 0 && errors_by_code.size() == 1 &&
         errors_by_code.count(StatusCodeName(StatusCode::kUnavailable)) == 1;
}

// One thread's state. `tally` and `last_end` are written by the thread during
// a phase and read by Run() after the thread reported the phase done (the
// mutex orders the two).
struct LoadEngine::Slot {
  Status setup;  // the factory's error, when it failed
  bool has_worker = false;
  LoadTally tally;
  SteadyTime last_end{};
  int64_t calls = 0;  // over the engine's life, for the per-worker bound
  std::atomic<int64_t> retries{0};
};

LoadEngine::LoadEngine(int threads, LoadWorkerFactory factory,
                       int64_t max_calls_per_worker)
    : max_calls_per_worker_(max_calls_per_worker) {
  const int n = std::clamp(threads, 1, 4096);
  for (int i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>());
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back(
        [this, i, factory] { RunThread(*slots_[static_cast<size_t>(i)], i, factory); });
  }
  MutexLock lock(mu_);
  cv_.Wait(mu_, [&] {
    mu_.AssertHeld();
    return ready_ == n;
  });
}

LoadEngine::~LoadEngine() {
  Stop();
  {
    MutexLock lock(mu_);
    shutting_down_ = true;
    cv_.NotifyAll();
  }
  for (auto& t : threads_) t.join();
}

std::vector<Status> LoadEngine::setup_errors() const {
  MutexLock lock(mu_);
  std::vector<Status> errors;
  for (const auto& s : slots_) {
    if (!s->has_worker) errors.push_back(s->setup);
  }
  return errors;
}

int64_t LoadEngine::retries() const {
  int64_t total = 0;
  for (const auto& s : slots_) total += s->retries.load(std::memory_order_relaxed);
  return total;
}

void LoadEngine::Stop() { stop_.store(true); }

void LoadEngine::RunThread(Slot& slot, int index, const LoadWorkerFactory& factory) {
  Result<std::unique_ptr<LoadWorker>> worker = Internal("the worker factory threw");
  try {
    worker = factory(index);
  } catch (const std::exception& e) {
    worker = Internal(std::string("the worker factory threw: ") + e.what());
  }
  {
    MutexLock lock(mu_);
    if (worker.ok()) {
      slot.has_worker = true;
    } else {
      slot.setup = worker.status();
    }
    ++ready_;
    cv_.NotifyAll();
  }
  if (!worker.ok()) return;
  uint64_t seen = 0;
  while (true) {
    LoadPhase phase;
    SteadyTime start, end;
    {
      MutexLock lock(mu_);
      cv_.Wait(mu_, [&] {
        mu_.AssertHeld();
        return shutting_down_ || phase_number_ > seen;
      });
      if (shutting_down_) break;
      seen = phase_number_;
      phase = phase_;
      start = phase_start_;
      end = phase_end_;
    }
    RunPhase(slot, **worker, phase, start, end);
    MutexLock lock(mu_);
    ++done_;
    cv_.NotifyAll();
  }
  worker = Internal("finished");  // the worker is destroyed on its own thread
}

void LoadEngine::RunPhase(Slot& slot, LoadWorker& worker, const LoadPhase& phase,
                          SteadyTime start, SteadyTime end) {
  LoadTally& t = slot.tally;
  t = LoadTally{};
  slot.last_end = start;
  // The last operation's histogram and the last replica's count, so a run
  // of the same operation on the same replica costs no map lookup per call.
  const char* last_op = nullptr;
  stats::LatencyHistogram* op_latency = nullptr;
  int64_t* op_ok = nullptr;
  std::string last_replica;
  int64_t* replica_count = nullptr;
  const double cpu_start = ThreadCpuMicros();
  while (!stop_.load(std::memory_order_relaxed) && slot.calls < max_calls_per_worker_) {
    if (phase.max_calls > 0 && issued_.fetch_add(1) >= phase.max_calls) break;
    const SteadyTime t0 = SteadyClock::now();
    if (t0 >= end) break;
    CallOutcome out = worker.Call();
    const SteadyTime t1 = SteadyClock::now();
    ++slot.calls;
    completed_.fetch_add(1, std::memory_order_relaxed);
    if (!out.status.ok()) failed_.fetch_add(1, std::memory_order_relaxed);
    slot.retries.store(worker.Retries(), std::memory_order_relaxed);
    if (!phase.counted) continue;
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count();
    t.latency.Record(us);
    if (out.op != last_op) {
      last_op = out.op;
      op_latency = &t.latency_by_op[out.op];
      op_ok = &t.ok_by_op[out.op];
    }
    op_latency->Record(us);
    slot.last_end = t1;
    if (out.status.ok()) {
      ++t.ok;
      ++*op_ok;
      if (replica_count == nullptr || out.served_by != last_replica) {
        last_replica = out.served_by;
        replica_count = &t.per_replica[out.served_by];
      }
      ++*replica_count;
    } else {
      ++t.failed;
      ++t.errors_by_code[StatusCodeName(out.status.code())];
      if (t.first_error.empty()) t.first_error = out.status.ToString();
    }
  }
  if (phase.counted) t.client_cpu_us = ThreadCpuMicros() - cpu_start;
  // Read after every phase, warm-ups too, so a caller can take the growth
  // over the counted ones.
  t.counters = worker.Counters();
}

LoadPhaseResult LoadEngine::Run(const LoadPhase& phase) {
  LoadPhaseResult result;
  if (stop_.load()) return result;
  const double seconds = phase.seconds > 0 ? std::min(phase.seconds, 1e6) : 0.0;
  int participants = 0;
  MutexLock lock(mu_);
  for (const auto& s : slots_) participants += s->has_worker ? 1 : 0;
  const int64_t completed_before = calls_completed();
  issued_.store(0);
  done_ = 0;
  phase_ = phase;
  phase_start_ = SteadyClock::now();
  phase_end_ =
      phase_start_ + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  ++phase_number_;
  cv_.NotifyAll();
  const SteadyTime start = phase_start_;
  const auto all_done = [&] {
    mu_.AssertHeld();
    return done_ >= participants;
  };
  if (phase.progress) {
    const auto interval = std::chrono::microseconds(
        static_cast<int64_t>(std::max(phase.progress_interval_s, 0.01) * 1e6));
    while (!cv_.WaitFor(mu_, interval, all_done)) {
      // The report runs with mu_ held: it only reads atomics and prints, and
      // the workers take mu_ only between phases.
      phase.progress(calls_completed() - completed_before,
                     std::chrono::duration<double>(SteadyClock::now() - start).count());
    }
  } else {
    cv_.Wait(mu_, all_done);
  }
  SteadyTime last = start;
  for (const auto& s : slots_) {
    if (!s->has_worker) continue;
    result.tally.Merge(s->tally);
    last = std::max(last, s->last_end);
  }
  result.seconds = std::chrono::duration<double>(last - start).count();
  return result;
}

}  // namespace beacon::client
