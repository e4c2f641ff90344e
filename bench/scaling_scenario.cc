// Scenario 4: CPU-heavy countPrimes through the full system with 1, 2 and 3
// replicas under the same offered load. Each replica count has its own
// registry (bench/run starts them, with their replicas on one database), so
// the three set-ups can take turns in slices like both sides of a ratio:
// only one set-up is loaded at a time, the others' replicas sit idle.
#include <cstdio>

#include "scenario_support.h"
#include "scenarios.h"
#include "workers.h"

namespace beacon::bench {

Result<nlohmann::json> RunScaling(const ScalingOptions& options) {
  const Common& common = options.common;
  if (options.registries.empty())
    return InvalidArgument("--registries: need at least one");
  nlohmann::json record = NewRecord("scaling", common.rep);
  client::SessionWorkload workload;
  workload.prime_weight = 0;
  workload.count_weight = 1;
  workload.count_width = options.width;
  std::vector<client::SessionOptions> sessions;
  for (const Endpoint& registry : options.registries) {
    client::SessionOptions s;
    s.registries = {registry};
    s.timeout_ms = BenchClientOptions().call_timeout_ms;
    sessions.push_back(s);
  }
  std::vector<WorkerFactory> factories;
  for (size_t k = 0; k < sessions.size(); ++k) {
    factories.push_back([&, k](int index) {
      return client::SessionLoadWorker::Create(sessions[k], workload,
                                               SeedFor(common.rep, index));
    });
  }
  const std::vector<LoadResult> results = RunInterleaved(
      common.timing.Spec(options.sessions), factories, !FirstSideFirst(common.rep, 0));
  auto& m = record["metrics"];
  m["sessions"] = options.sessions;
  m["width"] = options.width;
  for (size_t k = 0; k < results.size(); ++k) {
    const std::string p = "r" + std::to_string(k + 1);
    AddLoadResult(p, results[k], &record);
    m[p + ".replicas_answering"] = results[k].per_replica.size();
    m[p + "_over_r1_tput"] = Ratio(results[k].Throughput(), results[0].Throughput());
    std::fprintf(stderr,
                 "  scaling rep %d, %zu replica(s): %.1f countPrimes/s, p99 %lld us\n",
                 common.rep, k + 1, results[k].Throughput(),
                 static_cast<long long>(results[k].latency.Percentile(0.99)));
  }
  return record;
}

}  // namespace beacon::bench
