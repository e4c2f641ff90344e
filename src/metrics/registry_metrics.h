// RegistryMetrics: the registry's Prometheus metrics. Counts what the
// LeaseTable does (as its LeaseObserver), the calls its handler serves
// (CallMetrics) and reads the table's state at scrape time:
//   beacon_registry_registrations_total    new registrations
//   beacon_registry_heartbeats_total       leases renewed by heartbeat
//   beacon_registry_expiries_total         instances removed as their lease ran out
//   beacon_registry_deregistrations_total  instances removed by their holder
//   beacon_registry_lookups_total, beacon_registry_watches_total
//   beacon_registry_requests_total{service,method,code},
//   beacon_registry_request_duration_seconds{service,method},
//   beacon_registry_requests_in_flight{service,method}
//   beacon_registry_instances{service}     live instances per service
//   beacon_registry_leases                 live leases in the whole table
//   beacon_registry_watchers_waiting       watch calls waiting now
//   beacon_registry_service_watchers{service}  of those, per service
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "metrics/call_metrics.h"
#include "registry/lease_observer.h"
#include "registry/lease_table.h"

namespace beacon::metrics {

// Safe for concurrent use. `table` and `clock` must outlive it; the caller
// adds it to the table with table.AddObserver(this).
class RegistryMetrics final : public registry::LeaseObserver,
                              public prometheus::Collectable {
 public:
  RegistryMetrics(registry::LeaseTable& table, const Clock& clock);

  CallMetrics& calls() { return calls_; }
  prometheus::Counter& lookups() { return lookups_; }
  prometheus::Counter& watches() { return watches_; }

  // Counts one waiting Watch on `service` while alive (per-service watcher
  // counts for the dashboard and beacon_registry_service_watchers).
  class WatcherScope {
   public:
    WatcherScope(RegistryMetrics& metrics, std::string service);
    ~WatcherScope();
    WatcherScope(const WatcherScope&) = delete;
    WatcherScope& operator=(const WatcherScope&) = delete;

   private:
    RegistryMetrics& metrics_;
    const std::string service_;
  };

  // Watch calls in progress per service (services with none are absent).
  std::map<std::string, int64_t> WatchersByService() const;

  // What /metrics serves: the counters and histograms, then this collector.
  std::vector<const prometheus::Collectable*> collectables() const;

  void OnLeaseEvent(const registry::LeaseEvent& event) override;
  // The state gauges, read from the table now.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  registry::LeaseTable& table_;
  std::shared_ptr<prometheus::Registry> registry_;
  CallMetrics calls_;
  prometheus::Counter& registrations_;
  prometheus::Counter& heartbeats_;
  prometheus::Counter& expiries_;
  prometheus::Counter& deregistrations_;
  prometheus::Counter& lookups_;
  prometheus::Counter& watches_;
  mutable Mutex mu_;
  std::map<std::string, int64_t> watchers_ GUARDED_BY(mu_);
};

}  // namespace beacon::metrics
