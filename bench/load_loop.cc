#include "load_loop.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace beacon::bench {

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
  // Every side's workers are created (connections open) before any clock
  // starts; each side is an engine whose threads wait between its turns.
  std::vector<std::unique_ptr<client::LoadEngine>> engines;
  for (const WorkerFactory& factory : factories) {
    engines.push_back(std::make_unique<client::LoadEngine>(spec.threads, factory,
                                                           spec.max_calls_per_thread));
  }
  client::LoadPhase warmup;
  warmup.seconds = spec.warmup_s;
  warmup.counted = false;
  std::vector<std::map<std::string, int64_t>> warm_counters(sides);
  std::vector<std::map<std::string, int64_t>> last_counters(sides);
  // Every phase, warm-ups included, runs in the same order of the sides, so
  // that each measured slice follows another side's (see load_loop.h).
  const auto side_at = [&](size_t j) { return reverse_first ? sides - 1 - j : j; };
  for (size_t j = 0; j < sides; ++j) {
    const size_t side = side_at(j);
    warm_counters[side] = engines[side]->Run(warmup).tally.counters;
  }

  std::vector<client::LoadTally> tallies(sides);
  std::vector<double> seconds(sides, 0);
  const int slices =
      std::max(1, static_cast<int>(std::lround(spec.measure_s / spec.slice_s)));
  client::LoadPhase slice;
  slice.seconds = spec.measure_s / slices;
  for (int k = 0; k < slices; ++k) {
    for (size_t j = 0; j < sides; ++j) {
      const size_t side = side_at(j);
      client::LoadPhaseResult r = engines[side]->Run(slice);
      last_counters[side] = r.tally.counters;  // cumulative: the latest counts
      tallies[side].Merge(r.tally);
      seconds[side] += r.seconds;
    }
  }

  std::vector<LoadResult> results(sides);
  for (size_t side = 0; side < sides; ++side) {
    LoadResult& r = results[side];
    const client::LoadTally& t = tallies[side];
    r.threads = spec.threads;
    r.seconds = seconds[side];
    r.ok = t.ok;
    r.errors = t.failed;
    r.retries = engines[side]->retries();
    r.latency = t.latency;
    r.per_replica = t.per_replica;
    r.errors_by_kind = t.errors_by_code;
    r.client_cpu_us = t.client_cpu_us;
    r.first_error = t.first_error;
    for (const auto& [name, value] : last_counters[side]) {
      r.counters[name] = value - warm_counters[side][name];
    }
    const std::vector<Status> setup = engines[side]->setup_errors();
    r.setup_failures = static_cast<int>(setup.size());
    if (!setup.empty()) r.first_error = "setup: " + setup.front().ToString();
  }
  return results;
}

LoadResult RunClosedLoop(const LoadSpec& spec, const WorkerFactory& factory) {
  LoadSpec one = spec;
  one.slice_s = spec.measure_s;  // a single window
  return std::move(RunInterleaved(one, {factory}).front());
}

}  // namespace beacon::bench
