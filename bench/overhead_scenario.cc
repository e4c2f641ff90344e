// Scenario 1: the cost of Beacon's client path (discovery, cached list,
// balancer, pooled connections, failover bookkeeping) over a plain Thrift
// client calling the same replicas round-robin.
#include <cstdio>

#include "scenario_support.h"
#include "scenarios.h"
#include "workers.h"

namespace beacon::bench {

Result<nlohmann::json> RunOverhead(const OverheadOptions& options) {
  const Common& common = options.common;
  if (options.replicas.empty())
    return InvalidArgument("--replicas: need the replicas' addresses");
  nlohmann::json record = NewRecord("overhead", common.rep);
  client::SessionOptions session;
  session.registries = {common.registry};
  session.balancer = "round-robin";
  session.timeout_ms = BenchClientOptions().call_timeout_ms;
  const rpc::ClientOptions plain_options = BenchClientOptions();

  for (size_t i = 0; i < options.sessions.size(); ++i) {
    const int n = options.sessions[i];
    const LoadSpec spec = common.timing.Spec(n);
    const WorkerFactory make_plain = [&](int index) {
      return PlainPrimeWorker::Create(options.replicas, plain_options,
                                      SeedFor(common.rep, index));
    };
    const WorkerFactory make_beacon = [&](int index) {
      return client::SessionLoadWorker::Create(session, client::SessionWorkload{},
                                               SeedFor(common.rep, index));
    };
    auto results =
        RunInterleaved(spec, {make_plain, make_beacon}, !FirstSideFirst(common.rep, i));
    const LoadResult& plain = results[0];
    const LoadResult& beacon = results[1];
    const std::string p = "s" + std::to_string(n);
    AddLoadResult(p + ".plain", plain, &record, /*with_cdf=*/true);
    AddLoadResult(p + ".beacon", beacon, &record, /*with_cdf=*/true);
    record["metrics"][p + ".tput_ratio"] = Ratio(beacon.Throughput(), plain.Throughput());
    record["metrics"][p + ".p50_ratio"] =
        Ratio(beacon.latency.Percentile(0.5), plain.latency.Percentile(0.5));
    record["metrics"][p + ".client_cpu_ratio"] =
        Ratio(record["metrics"][p + ".beacon.client_cpu_us_per_call"].get<double>(),
              record["metrics"][p + ".plain.client_cpu_us_per_call"].get<double>());
    record["metrics"][p + ".p99_ratio"] =
        Ratio(beacon.latency.Percentile(0.99), plain.latency.Percentile(0.99));
    // Hedged copies are calls the plain client never makes: counted, so a
    // CPU ratio can be read against how many went out.
    const auto hedges = beacon.counters.find("hedges_sent");
    record["metrics"][p + ".beacon.hedges_sent"] =
        hedges == beacon.counters.end() ? 0 : hedges->second;
    std::fprintf(
        stderr,
        "  overhead rep %d, %d sessions: plain %.0f/s p99 %lld us cpu %.1f us/call, "
        "beacon %.0f/s p99 %lld us cpu %.1f us/call, %lld hedges\n",
        common.rep, n, plain.Throughput(),
        static_cast<long long>(plain.latency.Percentile(0.99)),
        record["metrics"][p + ".plain.client_cpu_us_per_call"].get<double>(),
        beacon.Throughput(), static_cast<long long>(beacon.latency.Percentile(0.99)),
        record["metrics"][p + ".beacon.client_cpu_us_per_call"].get<double>(),
        static_cast<long long>(
            record["metrics"][p + ".beacon.hedges_sent"].get<int64_t>()));
  }
  return record;
}

}  // namespace beacon::bench
