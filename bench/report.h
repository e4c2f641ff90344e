// Report: turns the scenarios' per-repetition records into the summary
// bench/run writes (results/latest.json) and its Markdown table
// (results/latest.md), and judges the issue's goals.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace beacon::bench {

// One metric over the repetitions.
struct Spread {
  double median = 0;
  double min = 0;
  double max = 0;
  int n = 0;  // 0: never measured
};

// The median (mean of the two middle values for an even count), min and max.
Spread Summarize(std::vector<double> values);

// A goal from the issue, judged on one metric of one scenario.
struct Goal {
  enum class Kind { kAtLeast, kAtMost, kBelow };
  std::string
      text;  // what a reader sees, e.g. "castVote p99.9 <= 5x isPrime p99.9 (16 clients)"
  std::string scenario;  // "voting"
  std::string metric;    // "c16.vote_over_prime_p999"
  Kind kind = Kind::kAtLeast;
  double target = 0;
  // Judge the worst repetition instead of the median (for "never" goals:
  // no single vote slower than 100 ms).
  bool worst_case = false;
};

// The goals of issue 7.
std::vector<Goal> IssueGoals();

// Builds the report from records ({"scenario", "rep", "load1", "metrics",
// "detail"}; records of one scenario and repetition are merged):
//   {"meta": meta,
//    "scenarios": {name: {"reps": n, "load1": [..],
//                         "metrics": {m: {"median", "min", "max", "n", "values"}},
//                         "detail": {rep: {...}}}},
//    "goals": [{"text", "scenario", "metric", "target", "kind", "worst_case",
//               "measured", "value", "met", "reps_met", "reps"}]}
// Values that are not numbers (null for an undefined ratio) are skipped.
nlohmann::json BuildReport(const std::vector<nlohmann::json>& records,
                           const nlohmann::json& meta, const std::vector<Goal>& goals);

// The Markdown page for a report built by BuildReport.
std::string RenderMarkdown(const nlohmann::json& report);

// Latency CDF points of scenario 1 at `sessions` sessions in repetition
// `rep` ("1", "2", ...) as gnuplot data (fraction, plain µs, Beacon µs), or
// "" when that run is not in the report.
std::string CdfTable(const nlohmann::json& report, int sessions, const std::string& rep);

}  // namespace beacon::bench
