#include "metrics/replica_metrics.h"

namespace beacon::metrics {
namespace {

prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

void AddSample(prometheus::MetricFamily* family, double value,
               std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (family->type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family->metric.push_back(std::move(m));
}

}  // namespace

ReplicaMetrics::ReplicaMetrics(const Clock& clock)
    : registry_(std::make_shared<prometheus::Registry>()),
      calls_(*registry_,
             {"beacon_replica_calls_total", "beacon_replica_call_duration_seconds",
              "beacon_replica_calls_in_flight", "calls"},
             clock),
      votes_recorded_(
          prometheus::BuildCounter()
              .Name("beacon_replica_votes_recorded_total")
              .Help("new votes recorded by this replica (repeats not counted)")
              .Register(*registry_)
              .Add({})),
      busy_refusals_(prometheus::BuildCounter()
                         .Name("beacon_replica_store_busy_refusals_total")
                         .Help("voting calls refused UNAVAILABLE because the vote store "
                               "stayed busy past its deadline (--busy-timeout-ms; on "
                               "PostgreSQL also: no connection or answer in time)")
                         .Register(*registry_)
                         .Add({})) {}

void ReplicaMetrics::SetStoreSource(
    std::function<std::optional<StoreCounters>()> source) {
  MutexLock lock(mu_);
  store_ = std::move(source);
}

void ReplicaMetrics::SetRegistrationSource(std::function<RegistrationStates()> source) {
  MutexLock lock(mu_);
  registrations_ = std::move(source);
}

std::vector<const prometheus::Collectable*> ReplicaMetrics::collectables() const {
  return {registry_.get(), this};
}

std::vector<prometheus::MetricFamily> ReplicaMetrics::Collect() const {
  std::function<std::optional<StoreCounters>()> store;
  std::function<RegistrationStates()> registrations;
  {
    MutexLock lock(mu_);
    store = store_;
    registrations = registrations_;
  }
  std::vector<prometheus::MetricFamily> out;
  if (store) {
    if (std::optional<StoreCounters> counters = store()) {
      auto batches = Family("beacon_replica_store_write_batches_total",
                            "write transactions the vote store ran",
                            prometheus::MetricType::Counter);
      AddSample(&batches, static_cast<double>(counters->write_batches));
      auto queued =
          Family("beacon_replica_store_queued_writes",
                 "writes waiting for the vote store now", prometheus::MetricType::Gauge);
      AddSample(&queued, static_cast<double>(counters->queued_writes));
      auto turn_waits = Family("beacon_replica_store_turn_waits_total",
                               "write batches that blocked on the replicas' writer turn "
                               "while another process held it",
                               prometheus::MetricType::Counter);
      AddSample(&turn_waits, static_cast<double>(counters->turn_waits));
      auto turn_failures =
          Family("beacon_replica_store_turn_failures_total",
                 "write batches that ran without the writer turn because it was "
                 "unusable (SQLite's lock alone ordered them)",
                 prometheus::MetricType::Counter);
      AddSample(&turn_failures, static_cast<double>(counters->turn_failures));
      out.push_back(std::move(batches));
      out.push_back(std::move(queued));
      out.push_back(std::move(turn_waits));
      out.push_back(std::move(turn_failures));
    }
  }
  if (registrations) {
    auto registered =
        Family("beacon_replica_registered_services",
               "services holding a lease at each registry (0: not registered)",
               prometheus::MetricType::Gauge);
    for (const auto& [registry, services] : registrations()) {
      AddSample(&registered, static_cast<double>(services), {{"registry", registry}});
    }
    out.push_back(std::move(registered));
  }
  return out;
}

}  // namespace beacon::metrics
