#include "metrics/call_metrics.h"

#include <exception>

namespace beacon::metrics {

constexpr size_t kCodes = static_cast<size_t>(StatusCode::kInternal) + 1;

// The series of one (service, method); created once, never removed.
struct CallSeries {
  prometheus::Labels labels;
  prometheus::Histogram* duration = nullptr;
  prometheus::Gauge* in_flight = nullptr;
  std::array<prometheus::Counter*, kCodes> by_code{};  // created on first use
};

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return kBuckets;
}

CallMetrics::CallMetrics(prometheus::Registry& registry, const CallMetricNames& names,
                         const Clock& clock)
    : clock_(clock),
      calls_(prometheus::BuildCounter()
                 .Name(names.calls_total)
                 .Help(names.what + " handled, by service, method and outcome code")
                 .Register(registry)),
      durations_(
          prometheus::BuildHistogram()
              .Name(names.duration_seconds)
              .Help("time spent handling " + names.what + ", by service and method")
              .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name(names.in_flight)
                     .Help(names.what + " being handled now, by service and method")
                     .Register(registry)) {}

CallMetrics::~CallMetrics() = default;

CallSeries* CallMetrics::EntryFor(const std::string& service, const std::string& method) {
  MutexLock lock(mu_);
  std::unique_ptr<CallSeries>& entry = entries_[{service, method}];
  if (entry == nullptr) {
    entry = std::make_unique<CallSeries>();
    entry->labels = {{"service", service}, {"method", method}};
    entry->duration = &durations_.Add(entry->labels, LatencyBuckets());
    entry->in_flight = &in_flight_.Add(entry->labels);
  }
  return entry.get();
}

prometheus::Counter& CallMetrics::CounterFor(CallSeries* entry, StatusCode code) {
  const size_t index =
      static_cast<size_t>(code) < kCodes ? static_cast<size_t>(code) : kCodes - 1;
  MutexLock lock(mu_);
  prometheus::Counter*& counter = entry->by_code[index];
  if (counter == nullptr) {
    prometheus::Labels labels = entry->labels;
    labels["code"] = StatusCodeName(static_cast<StatusCode>(index));
    counter = &calls_.Add(labels);
  }
  return *counter;
}

CallScope::CallScope(CallMetrics& metrics, const std::string& service,
                     const std::string& method)
    : metrics_(metrics),
      entry_(metrics.EntryFor(service, method)),
      start_micros_(metrics.clock_.NowMicros()),
      uncaught_at_start_(std::uncaught_exceptions()) {
  entry_->in_flight->Increment();
}

CallScope::~CallScope() {
  if (code_ == StatusCode::kOk && std::uncaught_exceptions() > uncaught_at_start_) {
    code_ = StatusCode::kInternal;
  }
  entry_->in_flight->Decrement();
  entry_->duration->Observe(
      static_cast<double>(metrics_.clock_.NowMicros() - start_micros_) / 1e6);
  metrics_.CounterFor(entry_, code_).Increment();
}

}  // namespace beacon::metrics
