// LoadLoop: how the benchmark scenarios drive the load engine. N
// threads, each owning one LoadWorker (one simulated client: its session or
// its connections), call back to back; only calls that start inside the
// measured window (after a warm-up) are counted. Every loop is bounded both
// in time and in calls, so a stuck server cannot hang the benchmark beyond
// its call timeout.
//
// The two sides of a ratio run interleaved (RunInterleaved): both sets of
// workers stay alive, and the sides take turns in short slices (A B A B
// ...), one side at a time, so load from other processes on a shared
// machine falls on both sides alike instead of on whichever ran second.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "client/load_engine.h"
#include "core/status.h"
#include "stats/latency_histogram.h"

namespace beacon::bench {

// The workers and the engine are the client library's (client/load_engine.h):
// the same engine `client_app load` and the fault tests run on.
using client::CallOutcome;
using client::LoadWorker;
using WorkerFactory = client::LoadWorkerFactory;

struct LoadSpec {
  int threads = 1;
  double warmup_s = 0.5;   // calls before the window are made, not counted
  double measure_s = 3.0;  // the time in which calls are counted (per side)
  int64_t max_calls_per_thread = 20'000'000;  // the bound in count
  // RunInterleaved: the measured time is cut into slices of about this
  // length (at least one slice per side).
  double slice_s = 0.5;
};

struct LoadResult {
  int threads = 0;
  int setup_failures = 0;
  double seconds = 0;  // from the window's start to the last counted call's end
  int64_t ok = 0;
  int64_t errors = 0;
  int64_t retries = 0;  // LoadWorker::Retries() summed at the end, warm-up included
  // Every counted call, failed ones included (a failure that took the whole
  // timeout belongs in the tail).
  stats::LatencyHistogram latency;
  std::map<std::string, int64_t> per_replica;     // served_by -> ok calls
  std::map<std::string, int64_t> errors_by_kind;  // status code name -> calls
  std::string first_error;  // the first failure's kind and message, or ""
  // CPU time the worker threads used during the counted time (the client's
  // own cost, barely affected by other processes; background threads such
  // as a session's watch are not included).
  double client_cpu_us = 0;
  // The workers' own counters (LoadWorker::Counters, e.g. "hedges_sent"):
  // how much each grew from the end of the warm-up to the end of the last
  // measured slice.
  std::map<std::string, int64_t> counters;

  double Throughput() const { return seconds > 0 ? ok / seconds : 0; }
  // {"tput", "ok", "errors", "seconds", "p50_us", "p90_us", "p99_us",
  //  "p999_us", "max_us", "mean_us", "client_cpu_us_per_call", "retries"}
  //  (per_replica and errors kept apart).
  nlohmann::json Metrics() const;
};

// Runs the load. All workers are created before the clock starts; the
// window starts warmup_s after the last one is ready. Blocks until every
// thread has stopped.
LoadResult RunClosedLoop(const LoadSpec& spec, const WorkerFactory& factory);

// Runs one load per factory (spec.threads workers each, all created before
// the clock starts), one side at a time: each side warms up for warmup_s,
// then the sides take turns in slices until each has run measure_s, always
// in the same order (A B A B ...; `reverse_first`: B A B A ...), warm-ups
// included, so that every measured slice follows another side's. A slice
// that follows its own side's (the A B B A order used before) cost up to
// twice the CPU per call on this machine, most of all right after its
// side's warm-up (measured 2026-11-28, docs/ARCHITECTURE.md), and so
// moved a side's figure by its place in the order. Callers alternate
// `reverse_first` between repetitions, so neither side is always the
// later one. A side's calls still in flight at the end of its slice finish
// before the next side starts. Returns one result per factory, in the
// factories' order.
std::vector<LoadResult> RunInterleaved(const LoadSpec& spec,
                                       const std::vector<WorkerFactory>& factories,
                                       bool reverse_first = false);

}  // namespace beacon::bench
