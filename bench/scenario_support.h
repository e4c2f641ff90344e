// What every scenario shares: records, metric naming, run ids, seeds and the
// alternating order of the two sides of a ratio.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "load_loop.h"
#include "rpc/channel.h"

namespace beacon::bench {

// {"scenario": scenario, "rep": rep, "metrics": {}, "detail": {}}.
nlohmann::json NewRecord(const std::string& scenario, int rep);

// Adds r's metrics as "<prefix>.<name>" (tput, p99_us, ...) and its
// per-replica calls, errors and first error under detail[prefix]; with_cdf
// adds latency percentiles for a CDF plot.
void AddLoadResult(const std::string& prefix, const LoadResult& r, nlohmann::json* record,
                   bool with_cdf = false);

// a / b, or NaN (written as null, skipped by the report) when b is not
// positive.
double Ratio(double a, double b);

// Eight random hex digits, so names (polls, voters, services) never collide
// with an earlier run's on the same servers.
std::string RunId();

// The payload seed of thread `index` in repetition `rep`: the same on both
// sides of a ratio.
uint64_t SeedFor(int rep, int index);

// Whether the first side of a pair runs first in repetition `rep` for the
// pair number `pair` (alternates with both, so neither side always goes
// first).
bool FirstSideFirst(int rep, size_t pair);

// Client options both sides of every ratio use: what client::Session derives
// from its default 5000 ms timeout.
rpc::ClientOptions BenchClientOptions();

// The 1-minute load average (/proc/loadavg), or -1.
double LoadAverage1();

}  // namespace beacon::bench
