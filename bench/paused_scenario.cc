// Scenario 6: a paused replica (issue 16). r3 is stopped with SIGSTOP for
// pause_s in the middle of each measured window (a long GC-like stall) while
// `sessions` sessions call isPrime, once per balancer with hedging auto and
// off: failed calls, calls slower than 100 ms, the longest call, hedges. The
// same with castVote (hedging auto), held only to "no failed call". First,
// hedging's cost with healthy replicas: isPrime with hedging auto vs off,
// interleaved.
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "balance/balancer.h"
#include "client/load_operations.h"
#include "scenario_support.h"
#include "scenarios.h"

namespace beacon::bench {
namespace {

constexpr int64_t kSlowCallUs = 100000;

// Counts the calls of its worker slower than kSlowCallUs, as the counter
// "slow_calls" (next to the session's own hedge counters).
class SlowCallCounter final : public LoadWorker {
 public:
  explicit SlowCallCounter(std::unique_ptr<LoadWorker> inner)
      : inner_(std::move(inner)) {}
  CallOutcome Call() override {
    const auto start = std::chrono::steady_clock::now();
    CallOutcome out = inner_->Call();
    if (std::chrono::steady_clock::now() - start >
        std::chrono::microseconds(kSlowCallUs)) {
      ++slow_;
    }
    return out;
  }
  int64_t Retries() const override { return inner_->Retries(); }
  std::map<std::string, int64_t> Counters() const override {
    std::map<std::string, int64_t> c = inner_->Counters();
    c["slow_calls"] = slow_;
    return c;
  }

 private:
  std::unique_ptr<LoadWorker> inner_;
  int64_t slow_ = 0;
};

// Stops `pid` with SIGSTOP `after` from its start for `pause`, then resumes
// it; the destructor waits for it and resumes the process in any case.
class Pauser {
 public:
  Pauser(pid_t pid, std::chrono::duration<double> after,
         std::chrono::duration<double> pause)
      : pid_(pid), thread_([this, after, pause] {
          std::this_thread::sleep_for(after);
          ::kill(pid_, SIGSTOP);
          std::this_thread::sleep_for(pause);
          ::kill(pid_, SIGCONT);
        }) {}
  ~Pauser() {
    thread_.join();
    ::kill(pid_, SIGCONT);
  }

 private:
  const pid_t pid_;
  std::thread thread_;
};

int64_t Counter(const LoadResult& r, const std::string& name) {
  auto it = r.counters.find(name);
  return it == r.counters.end() ? 0 : it->second;
}

client::HedgeOptions Hedge(bool on) {
  client::HedgeOptions h;
  if (!on) h.mode = client::HedgeMode::kOff;
  return h;
}

WorkerFactory Factory(const Common& common, const std::string& balancer, bool hedge,
                      const client::SessionWorkload& workload) {
  client::SessionOptions session;
  session.registries = {common.registry};
  session.balancer = balancer;
  session.timeout_ms = BenchClientOptions().call_timeout_ms;
  session.hedge = Hedge(hedge);
  return [session, workload,
          rep = common.rep](int index) -> Result<std::unique_ptr<LoadWorker>> {
    client::SessionWorkload mine = workload;
    mine.voter_prefix += "-c" + std::to_string(index);  // distinct voters per session
    auto worker =
        client::SessionLoadWorker::Create(session, std::move(mine), SeedFor(rep, index));
    if (!worker.ok()) return worker.status();
    return std::unique_ptr<LoadWorker>(new SlowCallCounter(std::move(worker).value()));
  };
}

// One load with r3 stopped in the middle of its window; metrics under `p`.
void RunPausedLoad(const PausedOptions& options, const std::string& p,
                   const WorkerFactory& factory, nlohmann::json* record) {
  const Timing& t = options.common.timing;
  LoadSpec spec = t.Spec(options.sessions);
  // The pause sits in the middle: measure_s before it, measure_s after.
  spec.measure_s = 2 * t.measure_s + options.pause_s;
  LoadResult r;
  {
    // Workers are created within milliseconds; the window opens warmup_s
    // after they are, so the pause starts about measure_s into it.
    Pauser pauser(options.pause_pid,
                  std::chrono::duration<double>(t.warmup_s + t.measure_s),
                  std::chrono::duration<double>(options.pause_s));
    r = RunClosedLoop(spec, factory);
  }
  AddLoadResult(p, r, record);
  nlohmann::json& m = (*record)["metrics"];
  m[p + ".failed"] = r.errors + r.setup_failures;
  m[p + ".slow_calls"] = Counter(r, "slow_calls");
  m[p + ".hedges_sent"] = Counter(r, "hedges_sent");
  m[p + ".hedges_won"] = Counter(r, "hedges_won");
  m[p + ".busy_retries"] = Counter(r, "busy_retries");
  std::fprintf(stderr,
               "  paused rep %d, %s: %.0f/s, failed %lld, slower than 100 ms %lld, max "
               "%.1f ms, hedges %lld sent %lld won, busy retries %lld\n",
               options.common.rep, p.c_str(), r.Throughput(),
               static_cast<long long>(r.errors + r.setup_failures),
               static_cast<long long>(Counter(r, "slow_calls")),
               static_cast<double>(r.latency.max()) / 1000,
               static_cast<long long>(Counter(r, "hedges_sent")),
               static_cast<long long>(Counter(r, "hedges_won")),
               static_cast<long long>(Counter(r, "busy_retries")));
}

}  // namespace

Result<nlohmann::json> RunPaused(const PausedOptions& options) {
  const Common& common = options.common;
  if (options.pause_pid <= 1) {
    return InvalidArgument("paused: --pause-pid must be the pid of the replica to stop");
  }
  nlohmann::json record = NewRecord("paused", common.rep);
  nlohmann::json& m = record["metrics"];

  // Hedging's cost with every replica healthy: auto vs off, interleaved.
  {
    const client::SessionWorkload prime;
    const std::vector<LoadResult> rs =
        RunInterleaved(common.timing.Spec(options.sessions),
                       {Factory(common, "round-robin", true, prime),
                        Factory(common, "round-robin", false, prime)},
                       !FirstSideFirst(common.rep, 0));
    AddLoadResult("healthy.hedge_auto", rs[0], &record);
    AddLoadResult("healthy.hedge_off", rs[1], &record);
    const double extra = Ratio(static_cast<double>(Counter(rs[0], "hedges_sent")),
                               static_cast<double>(rs[0].ok));
    m["healthy.extra_calls"] = extra;
    m["healthy.hedges_won"] = Counter(rs[0], "hedges_won");
    m["healthy.tput_ratio"] = Ratio(rs[0].Throughput(), rs[1].Throughput());
    const double cpu_auto = Ratio(rs[0].client_cpu_us, static_cast<double>(rs[0].ok));
    const double cpu_off = Ratio(rs[1].client_cpu_us, static_cast<double>(rs[1].ok));
    m["healthy.client_cpu_ratio"] = Ratio(cpu_auto, cpu_off);
    std::fprintf(stderr,
                 "  paused rep %d, healthy: hedging auto %.0f/s vs off %.0f/s, extra "
                 "calls %.2f%%, CPU/call ratio %.3f\n",
                 common.rep, rs[0].Throughput(), rs[1].Throughput(), extra * 100,
                 Ratio(cpu_auto, cpu_off));
  }

  std::vector<std::string> balancers = options.balancers;
  if (balancers.empty()) {
    const std::vector<std::string> known = balance::BalancerNames();
    for (const char* name : {"round-robin", "lru", "p2c"}) {
      if (std::find(known.begin(), known.end(), name) != known.end()) {
        balancers.push_back(name);
      }
    }
  }
  for (const std::string& balancer : balancers) {
    for (bool hedge : {true, false}) {
      RunPausedLoad(options, balancer + (hedge ? ".auto" : ".off"),
                    Factory(common, balancer, hedge, client::SessionWorkload{}), &record);
    }
  }
  if (options.votes) {
    client::SessionOptions setup;
    setup.registries = {common.registry};
    auto session = client::Session::Create(setup);
    if (!session.ok()) return session.status();
    const std::string run = RunId();
    auto poll = (*session)->CreatePoll("paused replica " + run, {"red", "green", "blue"},
                                       "paused-" + run);
    if (!poll.ok()) return poll.status();
    for (const std::string& balancer : balancers) {
      client::SessionWorkload votes;
      votes.prime_weight = 0;
      votes.vote_weight = 1;
      votes.poll_id = poll->poll.poll_id;
      votes.options = poll->poll.options;
      votes.voter_prefix = "paused-" + run + "-" + balancer;
      RunPausedLoad(options, "votes." + balancer + ".auto",
                    Factory(common, balancer, true, votes), &record);
    }
  }
  return record;
}

}  // namespace beacon::bench
