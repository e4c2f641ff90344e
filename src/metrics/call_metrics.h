// CallMetrics: counts and times calls at the handler level, by service,
// method and outcome (a StatusCode name such as "ok" or "unavailable"):
//   <calls>_total{service,method,code}   counter
//   <duration>_seconds{service,method}   histogram
//   <in_flight>{service,method}          gauge
// Both servers use it (the registry and the replica), with their own names.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/status.h"

namespace beacon::metrics {

struct CallMetricNames {
  std::string calls_total;       // e.g. "beacon_replica_calls_total"
  std::string duration_seconds;  // e.g. "beacon_replica_call_duration_seconds"
  std::string in_flight;         // e.g. "beacon_replica_calls_in_flight"
  std::string what = "calls";    // used in HELP texts
};

// Latency buckets in seconds, 100 us to 60 s (watch calls wait long).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

class CallMetrics;
struct CallSeries;  // the series of one (service, method)

// One call being measured: in flight from construction; on destruction it
// counts the outcome (Ok unless Fail() said otherwise; an exception that
// escapes without Fail() counts as "internal") and records the duration.
// Not thread-safe; one per call.
class CallScope {
 public:
  CallScope(CallMetrics& metrics, const std::string& service, const std::string& method);
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  void Fail(StatusCode code) { code_ = code; }

 private:
  CallMetrics& metrics_;
  CallSeries* entry_;
  const int64_t start_micros_;
  const int uncaught_at_start_;
  StatusCode code_ = StatusCode::kOk;
};

// Safe for concurrent use. `registry` and `clock` must outlive it.
class CallMetrics {
 public:
  CallMetrics(prometheus::Registry& registry, const CallMetricNames& names,
              const Clock& clock);
  ~CallMetrics();

 private:
  friend class CallScope;
  CallSeries* EntryFor(const std::string& service, const std::string& method);
  prometheus::Counter& CounterFor(CallSeries* entry, StatusCode code);

  const Clock& clock_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<CallSeries>> entries_
      GUARDED_BY(mu_);
};

}  // namespace beacon::metrics
