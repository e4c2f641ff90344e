// Scenario 3: the registry. Lookup against a trivial call on the same
// server, the lease life cycle of many instances, and many waiting watches
// woken by one membership change.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "Registry.h"
#include "plain_connection.h"
#include "rpc/thrift_registry_client.h"
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

// `watchers` threads, each with its own connection, long-polling one
// service; `rounds` membership changes; the delay from each change to each
// watcher's wake-up. While the first round's watches wait, measures lookup
// latency on the same service (lookup_waiting.*).
class WatchStorm {
 public:
  WatchStorm(const RegistryOptions& options, std::string service, int64_t version)
      : options_(options),
        service_(std::move(service)),
        version_(version),
        armed_(static_cast<size_t>(options.rounds)),
        woke_(static_cast<size_t>(options.rounds)),
        wake_us_(static_cast<size_t>(options.watchers) *
                 static_cast<size_t>(options.rounds)) {
    for (auto& a : armed_) a = 0;
    for (auto& w : woke_) w = 0;
    for (auto& w : wake_us_) w = -1;
  }

  ~WatchStorm() { Join(); }

  // Waits for every watcher thread to end (each returns after its last
  // round, a failure, or its watch's max wait).
  void Join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  void Start() {
    threads_.reserve(static_cast<size_t>(options_.watchers));
    for (int i = 0; i < options_.watchers; ++i)
      threads_.emplace_back([this, i] { Watch(i); });
  }

  // Round r: waits for every watch to be sent and settle, runs `while_waiting`,
  // then makes the change (via `change`) and waits for the wake-ups.
  // Returns how many watchers woke.
  int Round(int r, const std::function<Status()>& change,
            const std::function<void()>& while_waiting, stats::LatencyHistogram* wake,
            Status* change_status) {
    const auto all = [&](std::vector<std::atomic<int>>& counter) {
      return [&, r] {
        return counter[static_cast<size_t>(r)].load() + failed_.load() >=
               options_.watchers;
      };
    };
    PollUntil(all(armed_), 60);
    std::this_thread::sleep_for(
        std::chrono::microseconds(static_cast<int64_t>(options_.settle_s * 1e6)));
    while_waiting();
    change_at_ = SteadyClock::now();
    *change_status = change();
    PollUntil(all(woke_), 30);
    int woken = 0;
    for (int i = 0; i < options_.watchers; ++i) {
      const int64_t t = wake_us_[Slot(i, r)].load();
      if (t < 0) continue;
      wake->Record(t);
      ++woken;
    }
    return woken;
  }

  // Read after Join().
  int failed() const { return failed_.load(); }
  const std::string& first_error() const { return first_error_; }

 private:
  size_t Slot(int watcher, int round) const {
    return static_cast<size_t>(round) * static_cast<size_t>(options_.watchers) +
           static_cast<size_t>(watcher);
  }

  void Fail(const std::string& why) {
    if (failed_.fetch_add(1) == 0) first_error_ = why;
  }

  void Watch(int i) {
    constexpr int kMaxWaitMs = 60000;
    rpc::ClientOptions client = BenchClientOptions();
    auto conn = PlainConnection::Open(options_.common.registry, client);
    if (!conn.ok()) return Fail(conn.status().message());
    (*conn)->SetReceiveTimeout(kMaxWaitMs + 10000);
    idl::RegistryClient registry((*conn)->protocol());
    int64_t known = version_;
    for (int r = 0; r < options_.rounds; ++r) {
      ++armed_[static_cast<size_t>(r)];
      idl::Membership m;
      try {
        registry.watch(m, service_, known, kMaxWaitMs);
      } catch (const apache::thrift::TException& e) {
        return Fail(e.what());
      }
      wake_us_[Slot(i, r)] = std::chrono::duration_cast<std::chrono::microseconds>(
                                 SteadyClock::now() - change_at_.load())
                                 .count();
      if (m.version == known) return Fail("watch returned without a change");
      known = m.version;
      ++woke_[static_cast<size_t>(r)];
    }
  }

  const RegistryOptions& options_;
  const std::string service_;
  const int64_t version_;
  std::vector<std::atomic<int>> armed_;        // watchers that sent round r's watch
  std::vector<std::atomic<int>> woke_;         // watchers woken in round r
  std::vector<std::atomic<int64_t>> wake_us_;  // [round][watcher]; -1 until woken
  std::atomic<SteadyClock::time_point> change_at_{SteadyClock::time_point{}};
  std::atomic<int> failed_{0};
  std::string first_error_;  // written by the first failure only; read after Join()
  std::vector<std::thread> threads_;
};

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

  // Watches: lookup latency without and with the watchers waiting, then the
  // wake-up delays.
  const std::string watch_service = "bench-watch-" + run_id;
  if (auto lease = registry.Register(watch_service, FakeInstance("w-base", 18000), "");
      !lease.ok()) {
    return lease.status();
  }
  auto base = registry.Lookup(watch_service);
  if (!base.ok()) return base.status();
  const LoadSpec one = common.timing.Spec(1);
  auto lookups = [&] {
    return RunClosedLoop(one, [&](int) {
      return PlainRegistryWorker::Create(common.registry, BenchClientOptions(),
                                         PlainRegistryWorker::Op::kLookup, watch_service);
    });
  };
  const LoadResult idle = lookups();
  AddLoadResult("lookup_idle", idle, &record);
  LoadResult waiting;
  stats::LatencyHistogram wake;
  int woken = 0;
  Status change_status;
  {
    WatchStorm storm(options, watch_service, base->version);
    storm.Start();
    for (int r = 0; r < options.rounds && change_status.ok(); ++r) {
      woken += storm.Round(
          r,
          [&] {
            return registry
                .Register(watch_service, FakeInstance("w" + std::to_string(r), 18001 + r),
                          "")
                .status();
          },
          [&] {
            if (r == 0) waiting = lookups();
          },
          &wake, &change_status);
    }
    storm.Join();
    record["metrics"]["watch.failed"] = storm.failed();
    if (storm.failed() > 0)
      record["detail"]["watch"]["first_error"] = storm.first_error();
  }
  if (!change_status.ok()) return change_status;
  AddLoadResult("lookup_waiting", waiting, &record);
  auto& m = record["metrics"];
  m["lookup_waiting_over_idle_p50"] =
      Ratio(waiting.latency.Percentile(0.5), idle.latency.Percentile(0.5));
  m["lookup_waiting_over_idle_p99"] =
      Ratio(waiting.latency.Percentile(0.99), idle.latency.Percentile(0.99));
  m["watch.watchers"] = options.watchers;
  m["watch.rounds"] = options.rounds;
  m["watch.woken"] = woken;
  m["watch.wake_p50_us"] = wake.Percentile(0.5);
  m["watch.wake_p99_us"] = wake.Percentile(0.99);
  m["watch.wake_max_us"] = wake.max();
  std::fprintf(stderr,
               "  registry rep %d: %d watchers x %d rounds, %d woken: p50 %lld us, p99 "
               "%lld us, last %lld us; lookup p99 idle %lld us, waiting %lld us\n",
               common.rep, options.watchers, options.rounds, woken,
               static_cast<long long>(wake.Percentile(0.5)),
               static_cast<long long>(wake.Percentile(0.99)),
               static_cast<long long>(wake.max()),
               static_cast<long long>(idle.latency.Percentile(0.99)),
               static_cast<long long>(waiting.latency.Percentile(0.99)));
  return record;
}

}  // namespace beacon::bench
