// ReplicaMetrics: a replica's Prometheus metrics.
//   beacon_replica_calls_total{service,method,code}       calls handled, by outcome
//   beacon_replica_call_duration_seconds{service,method}  handling time
//   beacon_replica_calls_in_flight{service,method}        calls being handled
//   beacon_replica_votes_recorded_total                   new votes this replica recorded
//   beacon_replica_store_write_batches_total              write transactions run (SQLite)
//   beacon_replica_store_busy_refusals_total              voting calls refused
//                                                         UNAVAILABLE: the store stayed
//                                                         busy past its deadline
//   beacon_replica_store_queued_writes                    writes waiting for the store
//   beacon_replica_store_turn_waits_total                 write batches that blocked on
//                                                         the writer turn (SQLite)
//   beacon_replica_store_turn_failures_total              write batches that ran without
//                                                         it: the turn was unusable
//   beacon_replica_registered_services{registry}          services holding a lease
//                                                         there (0: not registered)
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "metrics/call_metrics.h"

namespace beacon::metrics {

// What the vote store did, as far as it tells (SQLite does; PostgreSQL not).
// Busy refusals are not here: the store refuses in more than one place (its
// queue, SQLite's lock), so they are counted where the call is answered.
struct StoreCounters {
  int64_t write_batches = 0;
  int64_t queued_writes = 0;
  int64_t turn_waits = 0;     // batches that blocked on the writer turn
  int64_t turn_failures = 0;  // batches that ran without it (it was unusable)
};

// (registry address, services holding a lease there) for every registry.
using RegistrationStates = std::vector<std::pair<std::string, int64_t>>;

// Safe for concurrent use. `clock` must outlive it.
class ReplicaMetrics final : public prometheus::Collectable {
 public:
  explicit ReplicaMetrics(const Clock& clock);

  CallMetrics& calls() { return calls_; }
  prometheus::Counter& votes_recorded() { return votes_recorded_; }
  // A voting call answered UNAVAILABLE: the vote store (the only source of
  // that code there) stayed busy or unreachable past its deadline.
  prometheus::Counter& busy_refusals() { return busy_refusals_; }

  // Where the scrape-time gauges come from; each may be set once it exists
  // (until then its metrics are absent). The functions are called on scrape,
  // from an HTTP handler thread, and must outlive this object or be reset.
  void SetStoreSource(std::function<std::optional<StoreCounters>()> source);
  void SetRegistrationSource(std::function<RegistrationStates()> source);

  std::vector<const prometheus::Collectable*> collectables() const;
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  CallMetrics calls_;
  prometheus::Counter& votes_recorded_;
  prometheus::Counter& busy_refusals_;
  mutable Mutex mu_;
  std::function<std::optional<StoreCounters>()> store_ GUARDED_BY(mu_);
  std::function<RegistrationStates()> registrations_ GUARDED_BY(mu_);
};

}  // namespace beacon::metrics
