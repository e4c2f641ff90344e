#include "scenario_support.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>

namespace beacon::bench {

nlohmann::json NewRecord(const std::string& scenario, int rep) {
  return nlohmann::json{{"scenario", scenario},
                        {"rep", rep},
                        {"load1", LoadAverage1()},
                        {"metrics", nlohmann::json::object()},
                        {"detail", nlohmann::json::object()}};
}

void AddLoadResult(const std::string& prefix, const LoadResult& r, nlohmann::json* record,
                   bool with_cdf) {
  const nlohmann::json metrics = r.Metrics();
  for (const auto& [name, value] : metrics.items()) {
    (*record)["metrics"][prefix + "." + name] = value;
  }
  nlohmann::json detail{{"threads", r.threads},
                        {"per_replica", r.per_replica},
                        {"errors_by_kind", r.errors_by_kind}};
  if (!r.first_error.empty()) detail["first_error"] = r.first_error;
  if (with_cdf) {
    nlohmann::json cdf = nlohmann::json::array();
    for (double q : {0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98,
                     0.99, 0.995, 0.999, 0.9999, 1.0}) {
      cdf.push_back({q, r.latency.Percentile(q)});
    }
    detail["cdf"] = cdf;
  }
  (*record)["detail"][prefix] = detail;
}

double Ratio(double a, double b) {
  return b > 0 ? a / b : std::numeric_limits<double>::quiet_NaN();
}

std::string RunId() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

uint64_t SeedFor(int rep, int index) {
  return static_cast<uint64_t>(rep) * 1000003ULL + static_cast<uint64_t>(index);
}

bool FirstSideFirst(int rep, size_t pair) {
  return (static_cast<size_t>(rep) + pair) % 2 == 1;
}

rpc::ClientOptions BenchClientOptions() {
  rpc::ClientOptions o;
  o.call_timeout_ms = 5000;
  o.connect_timeout_ms = 1000;
  return o;
}

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  if (!(in >> load)) return -1;
  return load;
}

}  // namespace beacon::bench
