// The benchmark scenarios of issue 7. Each function runs one repetition
// against servers bench/run started and returns its record:
//   {"scenario": name, "rep": n, "metrics": {name: number}, "detail": {...}}
// Metrics are plain numbers the report summarises over repetitions (median,
// min, max); a ratio is computed within the repetition from its two sides,
// run interleaved in slices (RunInterleaved), starting with the other side
// from one repetition to the next, so drift on a shared machine does not
// favour one side.
// kUnavailable/kInternal when the scenario cannot run (servers missing).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/endpoint.h"
#include "core/status.h"
#include "load_loop.h"

namespace beacon::bench {

struct Timing {
  double warmup_s = 0.5;
  double measure_s = 3.0;  // per side of a comparison
  double slice_s = 0.5;    // the sides of a comparison take turns this long

  LoadSpec Spec(int threads) const {
    LoadSpec s;
    s.threads = threads;
    s.warmup_s = warmup_s;
    s.measure_s = measure_s;
    s.slice_s = slice_s;
    return s;
  }
};

struct Common {
  Endpoint registry;
  int rep = 1;  // 1-based; also seeds the payloads and picks the order
  Timing timing;
};

// 1. isPrime through client::Session vs plain Thrift round-robin over the
// same replicas, at each session count.
struct OverheadOptions {
  Common common;
  std::vector<Endpoint> replicas;  // for the plain client (no registry)
  std::vector<int> sessions{1, 4, 16, 64};
};
Result<nlohmann::json> RunOverhead(const OverheadOptions& options);

// 2. castVote (distinct voters) and isPrime through the full system at each
// client count, and the raw in-process rate of the same store call by one
// thread and by raw_threads threads (the ceiling group commit can reach in
// one process) on a fresh database in scratch_dir. With sqlite_db, the
// replicas' WAL is watched while the clients run: its largest size, and how
// many times it was rewound after a complete checkpoint.
struct VotingOptions {
  Common common;
  std::vector<int> clients{16, 64};
  std::string scratch_dir;
  double raw_s = 3.0;
  int raw_threads = 16;
  std::string sqlite_db;  // the replicas' SQLite file; empty: not watched
  // Empty: the replicas and the raw run use SQLite (scenario "voting").
  // A PostgreSQL URI: the replicas run on it and so does the raw run
  // (scenario "voting_postgres").
  std::string postgres_uri;
};
Result<nlohmann::json> RunVoting(const VotingOptions& options);

// 3. The registry: lookup vs ping throughput, register/heartbeat/deregister
// of `instances` instances, and for each count in `watchers` that many
// waiting watches (one per connection, held by one client thread with
// epoll) woken by `rounds` changes: wake-up delays, lookup latency while they
// wait, a change of another service (must wake none), the client's own
// receive time and, with registry_pid, the registry's CPU per notified
// watcher, RSS and threads. Needs a registry with a lease TTL far above the
// run time and limits above `instances` and the largest watcher count.
struct RegistryOptions {
  Common common;
  int threads = 16;  // for lookup vs ping
  int instances = 1000;
  std::vector<int> watchers{1000, 10000};
  int rounds = 3;         // membership changes the watchers wake up for
  double settle_s = 1.0;  // for watch calls to reach the registry and block
  int registry_pid = 0;   // 0: no /proc measurements
};
Result<nlohmann::json> RunRegistry(const RegistryOptions& options);

// 4. countPrimes throughput through the full system under `sessions`
// closed-loop sessions per set-up; registries[k] lists k + 1 replicas (the
// set-ups take turns; common.registry is not used).
struct ScalingOptions {
  Common common;
  std::vector<Endpoint> registries;
  int sessions = 8;
  uint64_t width = 1000000;
};
Result<nlohmann::json> RunScaling(const ScalingOptions& options);

// 5. Per-replica share of isPrime calls per balancer under `sessions`
// sessions; `label` names the server set-up ("normal", "slow").
struct FairnessOptions {
  Common common;
  int sessions = 16;
  std::string label = "normal";
  std::vector<std::string> balancers{"round-robin", "lru", "p2c"};
};
Result<nlohmann::json> RunFairness(const FairnessOptions& options);

// 6. A paused replica (issue 16): first hedging's cost with healthy replicas
// (isPrime, round-robin, hedging auto vs off, interleaved); then, per
// balancer (empty: round-robin, lru and p2c when the factory knows it) with
// hedging auto and off, isPrime under `sessions` sessions while pause_pid
// (r3, started by bench/run) is stopped with SIGSTOP for pause_s in the
// middle of a window of 2 * measure_s + pause_s; with `votes`, the same with
// castVote (hedging auto). The process is resumed (SIGCONT) in every case.
struct PausedOptions {
  Common common;
  int sessions = 16;
  std::vector<std::string> balancers;
  int pause_pid = 0;
  double pause_s = 3;
  bool votes = true;
};
Result<nlohmann::json> RunPaused(const PausedOptions& options);

// Waits until the registry lists exactly `count` instances of `service`
// (polling, at most timeout_ms). kUnavailable saying what it saw otherwise.
Status WaitForMembers(const Endpoint& registry, const std::string& service, int count,
                      int timeout_ms);

}  // namespace beacon::bench
