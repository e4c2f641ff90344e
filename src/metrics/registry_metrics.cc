#include "metrics/registry_metrics.h"

namespace beacon::metrics {
namespace {

prometheus::Counter& NewCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::MetricFamily Gauge(const std::string& name, const std::string& help) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void AddSample(prometheus::MetricFamily* family, double value,
               std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  family->metric.push_back(std::move(m));
}

}  // namespace

RegistryMetrics::RegistryMetrics(registry::LeaseTable& table, const Clock& clock)
    : table_(table),
      registry_(std::make_shared<prometheus::Registry>()),
      calls_(
          *registry_,
          {"beacon_registry_requests_total", "beacon_registry_request_duration_seconds",
           "beacon_registry_requests_in_flight", "registry requests"},
          clock),
      registrations_(NewCounter(*registry_, "beacon_registry_registrations_total",
                                "instances registered (new, or again after expiry)")),
      heartbeats_(NewCounter(*registry_, "beacon_registry_heartbeats_total",
                             "leases renewed by heartbeat")),
      expiries_(NewCounter(*registry_, "beacon_registry_expiries_total",
                           "instances removed because their lease ran out")),
      deregistrations_(NewCounter(*registry_, "beacon_registry_deregistrations_total",
                                  "instances removed by their lease holder")),
      lookups_(NewCounter(*registry_, "beacon_registry_lookups_total",
                          "lookup calls received")),
      watches_(NewCounter(*registry_, "beacon_registry_watches_total",
                          "watch calls received")) {}

void RegistryMetrics::OnLeaseEvent(const registry::LeaseEvent& event) {
  switch (event.kind) {
    case registry::LeaseEventKind::kRegistered:
      registrations_.Increment();
      break;
    case registry::LeaseEventKind::kHeartbeat:
      heartbeats_.Increment();
      break;
    case registry::LeaseEventKind::kExpired:
      expiries_.Increment();
      break;
    case registry::LeaseEventKind::kDeregistered:
      deregistrations_.Increment();
      break;
    case registry::LeaseEventKind::kUpdated:
      break;
  }
}

RegistryMetrics::WatcherScope::WatcherScope(RegistryMetrics& metrics, std::string service)
    : metrics_(metrics), service_(std::move(service)) {
  MutexLock lock(metrics_.mu_);
  ++metrics_.watchers_[service_];
}

RegistryMetrics::WatcherScope::~WatcherScope() {
  MutexLock lock(metrics_.mu_);
  auto it = metrics_.watchers_.find(service_);
  if (it != metrics_.watchers_.end() && --it->second <= 0) metrics_.watchers_.erase(it);
}

std::map<std::string, int64_t> RegistryMetrics::WatchersByService() const {
  MutexLock lock(mu_);
  return watchers_;
}

std::vector<const prometheus::Collectable*> RegistryMetrics::collectables() const {
  return {registry_.get(), this};
}

std::vector<prometheus::MetricFamily> RegistryMetrics::Collect() const {
  auto instances = Gauge("beacon_registry_instances", "live instances, by service");
  double leases = 0;
  for (const auto& s : table_.ListServices()) {
    AddSample(&instances, s.instance_count, {{"service", s.service_name}});
    leases += s.instance_count;
  }
  auto total = Gauge("beacon_registry_leases", "live leases in the lease table");
  AddSample(&total, leases);
  auto waiting = Gauge("beacon_registry_watchers_waiting", "watch calls waiting now");
  AddSample(&waiting, static_cast<double>(table_.watcher_count()));
  auto per_service = Gauge("beacon_registry_service_watchers",
                           "watch calls in progress, by service watched");
  for (const auto& [service, count] : WatchersByService()) {
    AddSample(&per_service, static_cast<double>(count), {{"service", service}});
  }
  return {std::move(instances), std::move(total), std::move(waiting),
          std::move(per_service)};
}

}  // namespace beacon::metrics
