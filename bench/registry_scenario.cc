// Scenario 3: the registry. Lookup against a trivial call on the same
// server, the lease life cycle of many instances, and many waiting watches
// (issue 17: up to 10,000) woken by one membership change.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "Registry.h"
#include "plain_connection.h"
#include "rpc/thrift_registry_client.h"
#include "rpc/watch_fleet.h"
#include "scenario_support.h"
#include "scenarios.h"
#include "stats/latency_histogram.h"
#include "workers.h"

namespace beacon::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t MicrosSince(SteadyClock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0)
      .count();
}

double MillisSince(SteadyClock::time_point t0) { return MicrosSince(t0) / 1000.0; }

InstanceInfo FakeInstance(const std::string& id, int port) {
  return InstanceInfo{id, "127.0.0.1", port, {{"zone", "bench"}}};
}

bool PollUntil(const std::function<bool()>& done, double timeout_s) {
  const auto deadline = SteadyClock::now() +
                        std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6));
  while (!done()) {
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Register, heartbeat and deregister `count` instances one after another
// from one client, timing each phase.
Status MeasureLeaseCycle(rpc::ThriftRegistryClient& registry, const std::string& service,
                         int count, nlohmann::json* record) {
  std::vector<std::string> leases;
  leases.reserve(static_cast<size_t>(count));
  auto t0 = SteadyClock::now();
  for (int i = 0; i < count; ++i) {
    auto lease =
        registry.Register(service, FakeInstance("i" + std::to_string(i), 20000 + i), "");
    if (!lease.ok()) return lease.status();
    leases.push_back(lease->lease_id);
  }
  const double register_ms = MillisSince(t0);
  t0 = SteadyClock::now();
  for (int i = 0; i < count; ++i) {
    auto lease = registry.Heartbeat(service, "i" + std::to_string(i),
                                    leases[static_cast<size_t>(i)]);
    if (!lease.ok()) return lease.status();
  }
  const double heartbeat_ms = MillisSince(t0);
  t0 = SteadyClock::now();
  for (int i = 0; i < count; ++i) {
    if (Status s = registry.Deregister(service, "i" + std::to_string(i),
                                       leases[static_cast<size_t>(i)]);
        !s.ok()) {
      return s;
    }
  }
  const double deregister_ms = MillisSince(t0);
  auto& m = (*record)["metrics"];
  m["lease.instances"] = count;
  m["lease.register_ms"] = register_ms;
  m["lease.heartbeat_ms"] = heartbeat_ms;
  m["lease.deregister_ms"] = deregister_ms;
  return Status::Ok();
}

// The registry process as /proc shows it (zeros when pid is 0 or unreadable).
struct ProcessSample {
  int64_t cpu_us = 0;   // utime + stime
  int64_t user_us = 0;  // utime: the registry's own code (and libc)
  int64_t sys_us = 0;   // stime: the kernel on its behalf (sockets, epoll)
  double rss_mib = 0;   // VmRSS
  int threads = 0;
};

ProcessSample SampleProcess(int pid) {
  ProcessSample out;
  if (pid <= 0) return out;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start after the last ')'.
  const size_t close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; fields >> field; ++i) {
      if (i == 14) utime = std::stoll(field);
      if (i == 15) {
        stime = std::stoll(field);
        break;
      }
    }
    out.user_us = utime * 1'000'000 / sysconf(_SC_CLK_TCK);
    out.sys_us = stime * 1'000'000 / sysconf(_SC_CLK_TCK);
    out.cpu_us = out.user_us + out.sys_us;
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) out.rss_mib = std::stod(line.substr(6)) / 1024;
    if (line.rfind("Threads:", 0) == 0) out.threads = std::stoi(line.substr(8));
  }
  return out;
}

}  // namespace

Result<nlohmann::json> RunRegistry(const RegistryOptions& options) {
  const Common& common = options.common;
  nlohmann::json record = NewRecord("registry", common.rep);
  const std::string run_id = RunId();
  rpc::ThriftRegistryClient registry(common.registry, BenchClientOptions());
  if (Status s = registry.Ping(); !s.ok()) return s;

  // Lookup vs ping, on a service with three instances.
  const std::string lookup_service = "bench-lookup-" + run_id;
  for (int i = 0; i < 3; ++i) {
    auto lease = registry.Register(lookup_service,
                                   FakeInstance("l" + std::to_string(i), 19000 + i), "");
    if (!lease.ok()) return lease.status();
  }
  {
    auto make = [&](PlainRegistryWorker::Op op) -> WorkerFactory {
      return [&, op](int) {
        return PlainRegistryWorker::Create(common.registry, BenchClientOptions(), op,
                                           lookup_service);
      };
    };
    auto results = RunInterleaved(
        common.timing.Spec(options.threads),
        {make(PlainRegistryWorker::Op::kLookup), make(PlainRegistryWorker::Op::kPing)},
        !FirstSideFirst(common.rep, 0));
    const LoadResult& lookup = results[0];
    const LoadResult& ping = results[1];
    AddLoadResult("lookup", lookup, &record);
    AddLoadResult("ping", ping, &record);
    record["metrics"]["lookup_over_ping_tput"] =
        Ratio(lookup.Throughput(), ping.Throughput());
    std::fprintf(stderr, "  registry rep %d: lookup %.0f/s, ping %.0f/s (%d threads)\n",
                 common.rep, lookup.Throughput(), ping.Throughput(), options.threads);
  }

  if (Status s = MeasureLeaseCycle(registry, "bench-lease-" + run_id, options.instances,
                                   &record);
      !s.ok()) {
    return s;
  }
  std::fprintf(stderr,
               "  registry rep %d: %d instances: register %.0f ms, heartbeat %.0f ms, "
               "deregister %.0f ms\n",
               common.rep, options.instances,
               record["metrics"]["lease.register_ms"].get<double>(),
               record["metrics"]["lease.heartbeat_ms"].get<double>(),
               record["metrics"]["lease.deregister_ms"].get<double>());

  // Watches: lookup latency with no watcher, then for each watcher count: a
  // fleet of that many waiting watches (one per connection), lookups while
  // they wait, a change of another service (must wake none), then `rounds`
  // changes of theirs and the delay from each change to each receipt.
  const std::string watch_service = "bench-watch-" + run_id;
  const std::string other_service = "bench-other-" + run_id;
  if (auto lease = registry.Register(watch_service, FakeInstance("w-base", 18000), "");
      !lease.ok()) {
    return lease.status();
  }
  const LoadSpec one = common.timing.Spec(1);
  auto lookups = [&] {
    return RunClosedLoop(one, [&](int) {
      return PlainRegistryWorker::Create(common.registry, BenchClientOptions(),
                                         PlainRegistryWorker::Op::kLookup, watch_service);
    });
  };
  const LoadResult idle = lookups();
  AddLoadResult("lookup_idle", idle, &record);
  auto& m = record["metrics"];
  m["watch.rounds"] = options.rounds;
  const auto woken_so_far = [&]() -> Result<int64_t> {
    auto stats = registry.Stats();
    if (!stats.ok()) return stats.status();
    return stats->watchers_woken;
  };
  int change_count = 0;
  const auto change = [&](const std::string& service) {
    ++change_count;
    return registry
        .Register(service,
                  FakeInstance("w" + std::to_string(change_count), 30000 + change_count),
                  "")
        .status();
  };
  constexpr int kMaxWaitMs = 60000;
  for (const int n : options.watchers) {
    const std::string w = "w" + std::to_string(n) + ".";
    const ProcessSample before_open = SampleProcess(options.registry_pid);
    auto fleet = rpc::WatchFleet::Open(common.registry, n);
    if (!fleet.ok()) return fleet.status();
    stats::LatencyHistogram wake;
    int woken = 0, failed = 0;
    std::string first_error;
    int64_t server_cpu_us = 0, server_user_us = 0, client_cpu_us = 0, client_span_us = 0;
    ProcessSample waiting_sample;
    LoadResult waiting;
    for (int r = 0; r < options.rounds; ++r) {
      auto base = registry.Lookup(watch_service);
      if (!base.ok()) return base.status();
      if (Status s = (*fleet)->SendAll(watch_service, base->version, kMaxWaitMs);
          !s.ok()) {
        return s;
      }
      // Every watch parked in the registry (its own count says so).
      PollUntil(
          [&] {
            auto stats = registry.Stats();
            return stats.ok() && stats->waiting_watchers >= n;
          },
          30);
      std::this_thread::sleep_for(
          std::chrono::microseconds(static_cast<int64_t>(options.settle_s * 1e6)));
      if (r == 0) {
        waiting_sample = SampleProcess(options.registry_pid);
        waiting = lookups();
        auto woken_before = woken_so_far();
        if (!woken_before.ok()) return woken_before.status();
        if (Status s = change(other_service); !s.ok()) return s;
        auto woken_after = woken_so_far();
        if (!woken_after.ok()) return woken_after.status();
        m[w + "other_service_woken"] = *woken_after - *woken_before;
      }
      const ProcessSample cpu_before = SampleProcess(options.registry_pid);
      const int64_t change_at = rpc::WatchFleet::NowMicros();
      if (Status s = change(watch_service); !s.ok()) return s;
      const rpc::WatchFleet::Replies replies = (*fleet)->Await(30000);
      const ProcessSample cpu_after = SampleProcess(options.registry_pid);
      server_cpu_us += cpu_after.cpu_us - cpu_before.cpu_us;
      server_user_us += cpu_after.user_us - cpu_before.user_us;
      client_cpu_us += replies.receive_cpu_us;
      if (replies.first_us >= 0) client_span_us += replies.last_us - replies.first_us;
      for (size_t i = 0; i < replies.received_us.size(); ++i) {
        if (replies.received_us[i] < 0) continue;
        if (replies.version[i] == base->version) {
          ++failed;
          if (first_error.empty()) first_error = "watch returned without a change";
          continue;
        }
        wake.Record(replies.received_us[i] - change_at);
        ++woken;
      }
      failed += replies.failed;
      if (first_error.empty()) first_error = replies.first_error;
    }
    const double notified = std::max(1, woken);
    m[w + "watchers"] = n;
    m[w + "connections"] = (*fleet)->size();
    m[w + "woken"] = woken;
    m[w + "missed"] = n * options.rounds - woken;
    m[w + "failed"] = failed;
    if (failed > 0) record["detail"]["watch"][w + "first_error"] = first_error;
    m[w + "wake_p50_us"] = wake.Percentile(0.5);
    m[w + "wake_p99_us"] = wake.Percentile(0.99);
    m[w + "wake_max_us"] = wake.max();
    m[w + "client_recv_cpu_us_per_watcher"] = client_cpu_us / notified;
    m[w + "client_first_to_last_us"] = client_span_us / options.rounds;
    AddLoadResult(w + "lookup_waiting", waiting, &record);
    m[w + "lookup_waiting_over_idle_p99"] =
        Ratio(waiting.latency.Percentile(0.99), idle.latency.Percentile(0.99));
    if (options.registry_pid > 0) {
      m[w + "cpu_per_watcher_us"] = server_cpu_us / notified;
      m[w + "cpu_user_per_watcher_us"] = server_user_us / notified;
      m[w + "cpu_sys_per_watcher_us"] = (server_cpu_us - server_user_us) / notified;
      m[w + "rss_mib"] = waiting_sample.rss_mib;
      m[w + "rss_per_watcher_kib"] =
          (waiting_sample.rss_mib - before_open.rss_mib) * 1024 / n;
      m[w + "threads"] = waiting_sample.threads;
    }
    std::fprintf(stderr,
                 "  registry rep %d: %d watchers x %d rounds, %d woken, %d failed: p50 "
                 "%lld us, p99 %lld us, max %lld us; client receive %.1f us/watcher; "
                 "server %.1f us/watcher (user %.1f), RSS %.0f MiB, %d threads; other "
                 "service woke "
                 "%lld; lookup p99 idle %lld us, waiting %lld us\n",
                 common.rep, n, options.rounds, woken, failed,
                 static_cast<long long>(wake.Percentile(0.5)),
                 static_cast<long long>(wake.Percentile(0.99)),
                 static_cast<long long>(wake.max()), client_cpu_us / notified,
                 server_cpu_us / notified, server_user_us / notified,
                 waiting_sample.rss_mib, waiting_sample.threads,
                 static_cast<long long>(m[w + "other_service_woken"].get<int64_t>()),
                 static_cast<long long>(idle.latency.Percentile(0.99)),
                 static_cast<long long>(waiting.latency.Percentile(0.99)));
  }
  return record;
}

}  // namespace beacon::bench
