// Scenario 5: how each balancer shares isPrime calls between the replicas,
// with all replicas alike ("normal") or one made slow ("slow", bench/run
// restarts it with replica_svc --debug-delay-us).
#include <cstdio>

#include "scenario_support.h"
#include "scenarios.h"
#include "workers.h"

namespace beacon::bench {

Result<nlohmann::json> RunFairness(const FairnessOptions& options) {
  const Common& common = options.common;
  nlohmann::json record = NewRecord("fairness", common.rep);
  std::vector<client::SessionOptions> sessions;
  std::vector<WorkerFactory> factories;
  for (const std::string& balancer : options.balancers) {
    client::SessionOptions session;
    session.registries = {common.registry};
    session.balancer = balancer;
    session.timeout_ms = BenchClientOptions().call_timeout_ms;
    sessions.push_back(session);
  }
  for (size_t b = 0; b < sessions.size(); ++b) {
    factories.push_back([&, b](int index) {
      return client::SessionLoadWorker::Create(sessions[b], client::SessionWorkload{},
                                               SeedFor(common.rep, index));
    });
  }
  const std::vector<LoadResult> results = RunInterleaved(
      common.timing.Spec(options.sessions), factories, !FirstSideFirst(common.rep, 0));
  for (size_t b = 0; b < results.size(); ++b) {
    const std::string& balancer = options.balancers[b];
    const LoadResult& r = results[b];
    const std::string p = options.label + "." + balancer;
    AddLoadResult(p, r, &record);
    std::string shares;
    for (const auto& [replica, calls] : r.per_replica) {
      const double share = Ratio(static_cast<double>(calls), static_cast<double>(r.ok));
      record["metrics"][p + ".share." + replica] = share;
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s=%.1f%%", replica.c_str(), share * 100);
      shares += buf;
    }
    std::fprintf(stderr, "  fairness rep %d, %s, %s: %.0f/s, shares%s\n", common.rep,
                 options.label.c_str(), balancer.c_str(), r.Throughput(), shares.c_str());
  }
  // p2c against round-robin in the same run (issue 16's goals).
  const auto index_of = [&](const std::string& name) {
    for (size_t b = 0; b < options.balancers.size(); ++b) {
      if (options.balancers[b] == name) return static_cast<int>(b);
    }
    return -1;
  };
  const int p2c = index_of("p2c"), rr = index_of("round-robin");
  if (p2c >= 0 && rr >= 0) {
    const LoadResult& a = results[static_cast<size_t>(p2c)];
    const LoadResult& b = results[static_cast<size_t>(rr)];
    record["metrics"][options.label + ".p2c_over_rr_tput"] =
        Ratio(a.Throughput(), b.Throughput());
    record["metrics"][options.label + ".p2c_over_rr_p99"] =
        Ratio(static_cast<double>(a.latency.Percentile(0.99)),
              static_cast<double>(b.latency.Percentile(0.99)));
  }
  return record;
}

}  // namespace beacon::bench
