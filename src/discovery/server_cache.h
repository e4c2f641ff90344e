// ServerCache: one client session's view of the registry. It asks the
// registry once per service, keeps the answer fresh in the background, picks
// a server per call through the service's balancer, and skips servers that
// just failed. The session keeps working from its cache while the registry is
// down.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/hot.h"
#include "core/membership.h"
#include "core/mutex.h"
#include "core/status.h"
#include "discovery/registry_client.h"
#include "discovery/snapshot_store.h"

namespace beacon::balance {
class Balancer;
}  // namespace beacon::balance

namespace beacon::discovery {

struct CachedInstanceState;  // a cached instance's counters and down mark
class PickedServer;

struct ServerCacheOptions {
  // Balancing policy per service; one of balance::BalancerNames().
  std::string balancer = "round-robin";
  // p2c: how long a latency peak takes to fade (balance::BalancerContext).
  int64_t balancer_decay_window_ms = 10000;
  // How long a server that failed at transport level is skipped; 0 disables.
  int64_t down_cooloff_ms = 5000;
  // Keep a background Watch per service in use. When false the list changes
  // only through refreshes (after a transport failure, or when no server is
  // usable).
  bool watch = true;
  // max_wait_ms passed to RegistryClient::Watch.
  int watch_max_wait_ms = 20000;
  // With a cached list but no usable server in it, a Pick asks the registry
  // synchronously at most once per this interval; in between it falls back
  // to the server whose down mark ends soonest. Keeps a session whose only
  // server is down from sending one Lookup per call.
  int64_t min_sync_lookup_interval_ms = 1000;
  // Capped, jittered backoff of the background loop while the registry does
  // not answer (see RetryBackoff). Real time, not the injected Clock.
  int64_t retry_min_ms = 100;
  int64_t retry_max_ms = 3000;
};

// One cached server of a service, with this session's statistics.
struct InstanceView {
  InstanceInfo instance;
  int64_t calls = 0;              // Report* calls for it (successes and failures)
  int64_t failures = 0;           // ReportTransportFailure calls for it
  bool down = false;              // inside its cool-off after a transport failure
  int64_t down_remaining_ms = 0;  // rounded up; 0 when not down
};

// What the session knows about one service.
struct ServiceView {
  std::string service_name;
  bool has_list = false;  // the registry has answered at least once
  int64_t version = 0;    // membership version of the cached list
  // The registry's latest answer listed no instance, so the cache keeps the
  // last non-empty list it had (e.g. while a restarted registry waits for
  // the replicas to register again).
  bool holding_last_list = false;
  // The list comes from the snapshot on disk (SnapshotStore), not from a
  // registry: no registry has answered this session yet.
  bool from_snapshot = false;
  int64_t age_ms = -1;  // since a registry last confirmed the list; -1 without a list
  int64_t registry_lookups = 0;  // Lookup calls made for it (synchronous and background)
  int64_t watch_updates = 0;     // new lists brought by a Watch
  std::string balancer;          // policy name
  std::vector<InstanceView> instances;  // sorted by id
};

// Owns one background thread per service in use (started at the first Pick),
// which keeps the list fresh: with watch=true it loops on Watch; either way it
// serves refresh requests with a Lookup and retries with backoff while the
// registry is down. Callers are never blocked by it while a usable server is
// cached; a Pick blocks on the registry only on first use of a service or
// when no cached server is usable.
// Safe for concurrent use: many threads of one session may Pick and Report*
// at once.
class ServerCache {
 public:
  // A session may use at most this many services (each costs a thread).
  static constexpr size_t kMaxServices = 64;

  // kInvalidArgument naming the field for a null registry, an unknown
  // balancer or out-of-range timings. `clock` (down marks, ages) must outlive
  // the cache; the cache shares ownership of `registry` and `snapshot`.
  // With a `snapshot` store, every non-empty list a registry gives is saved
  // to it, and a service whose first Lookup finds no registry reachable
  // starts from the saved list instead of failing (ServiceView::from_snapshot),
  // until a registry answers.
  static Result<std::unique_ptr<ServerCache>> Create(
      std::shared_ptr<RegistryClient> registry, const Clock& clock,
      ServerCacheOptions options, std::shared_ptr<SnapshotStore> snapshot = nullptr);

  // Stops the background threads promptly: wakes them and cancels their
  // watches (RegistryClient::CancelWatches) instead of waiting out
  // max_wait_ms, then joins them. No other call may be in progress.
  ~ServerCache();

  ServerCache(const ServerCache&) = delete;
  ServerCache& operator=(const ServerCache&) = delete;

  // A server for `service`, chosen by the service's balancer among cached
  // instances not marked down and not in `exclude` (instance ids), as a
  // handle that copies nothing (it shares the cached list it came from).
  // The caller must report every PickedServer exactly once, with
  // ReportSuccess or ReportTransportFailure, when its call has ended (a
  // hedged copy that lost the race included): the balancer counts calls in
  // flight from the pick to that report (see balance::Balancer).
  // First use of a service makes one blocking Lookup. When no cached instance
  // is usable, makes one synchronous Lookup (shared with concurrent Picks
  // that need one too); if still none is usable but some are merely marked
  // down (not excluded), returns the one whose mark expires soonest.
  // Errors: kInvalidArgument for a malformed service name;
  // kResourceExhausted past kMaxServices services; kUnavailable
  // "no live servers for service 'prime'" (plus the registry's error when the
  // Lookup failed) or, when the registry never answered,
  // "registry ADDR unreachable and no cached servers: <registry's message>";
  // other registry errors on first use are returned as they are.
  Result<PickedServer> PickServer(const std::string& service,
                                  const std::vector<std::string>& exclude = {});
  // As above, with down marks judged at `now_us`, the cache clock's reading
  // the caller already took (a call reads the clock once).
  BEACON_HOT Result<PickedServer> PickServer(const std::string& service,
                                             const std::vector<std::string>& exclude,
                                             int64_t now_us);

  // PickServer, returning a copy of the instance: for tools and tests that
  // look at the choice. Same errors. The pick is reported like any other
  // (by id, below) or, unreported, stays counted as a call in flight by
  // balancers that count them.
  Result<InstanceInfo> Pick(const std::string& service,
                            const std::vector<std::string>& exclude = {});

  // The call to `server` (from PickServer) got an answer (application errors
  // included): counts it and tells the balancer, with `latency_us`. No
  // lookup: the handle points at the instance's counters.
  BEACON_HOT void ReportSuccess(const PickedServer& server, int64_t latency_us);

  // The call to `server` failed at transport level: as the overload by id
  // below, without a lookup.
  void ReportTransportFailure(const PickedServer& server);

  // The call to `instance_id` reached the server and got an answer
  // (application errors included). Counts it and tells the balancer.
  // Unknown services or instances are only passed to the balancer.
  void ReportSuccess(const std::string& service, const std::string& instance_id,
                     int64_t latency_us);

  // The call failed at transport level (connect/send/receive): marks the
  // instance down for down_cooloff_ms, tells the balancer and asks the
  // background thread for a Lookup. Never blocks on the registry.
  void ReportTransportFailure(const std::string& service, const std::string& instance_id);

  // Makes sure `service` has a cached list, without picking a server: the
  // first call makes one blocking Lookup (and starts the background refresh),
  // later calls return at once. Used to show a session's view before any
  // call. Errors as Pick's for a service that never got a list.
  Status Load(const std::string& service);

  // A consistent picture of one service (has_list false if never used).
  ServiceView View(const std::string& service) const;

  // Services used so far (Pick called), sorted.
  std::vector<std::string> Services() const;

 private:
  friend class PickedServer;
  struct Service;
  struct Snapshot;
  struct Observed;

  // Marks `state` down and asks `s`'s background thread for a Lookup.
  void MarkDown(Service& s, CachedInstanceState* state);

  ServerCache(std::shared_ptr<RegistryClient> registry, const Clock& clock,
              ServerCacheOptions options, std::shared_ptr<SnapshotStore> snapshot);

  Result<Service*> FindOrAddService(const std::string& name);
  BEACON_HOT Service* FindService(const std::string& name) const;
  // PickServer past its common case (a service not yet in use, or no usable
  // server in the cached list): lookups, fallbacks, errors. Out of line.
  [[gnu::noinline, gnu::cold]] Result<PickedServer> PickServerSlow(
      const std::string& service, const std::vector<std::string>& exclude,
      int64_t now_us);
  BEACON_HOT static Observed Observe(const Service& s);
  // False when no instance of `s` can be down at `now_us` (none was marked
  // down past it), so a Pick need not read the instances' states.
  BEACON_HOT static bool MaybeDown(const Service& s, int64_t now_us);
  // A handle on instance `i` of `snapshot`, a list of `s`.
  BEACON_HOT static PickedServer Handle(Service& s,
                                        std::shared_ptr<const Snapshot> snapshot,
                                        size_t i, bool from_balancer);

  // First use of `s`: one blocking Lookup unless a list is cached, then the
  // background thread. Returns the Lookup's outcome when one was made.
  std::optional<Status> EnsureListed(Service& s, Observed& seen);
  // The error for a service that has never had a list, given its last Lookup.
  Status NeverListedError(const std::string& service, const Status& lookup) const;

  // A synchronous Lookup for a Pick that saw `seen_lookups` completed
  // Lookups; shares the result of any Lookup that completed since.
  Status LookupForPick(Service& s, uint64_t seen_lookups);
  // Calls Lookup, adopts the answer, records the outcome.
  Status RunLookup(Service& s);
  // Swaps in `m` if its version differs from the cached one (or the cached
  // list came from the snapshot), and saves a non-empty list to the snapshot.
  void Adopt(Service& s, const Membership& m, bool from_watch);
  // Installs the snapshot's list for a service that has none; false if the
  // snapshot has none either.
  bool AdoptSnapshot(Service& s);

  void StartWorker(Service& s);
  void RunWorker(Service& s);

  const std::shared_ptr<RegistryClient> registry_;
  const std::shared_ptr<SnapshotStore> snapshot_;  // may be null
  const Clock& clock_;
  const ServerCacheOptions options_;
  std::atomic<bool> stopping_{false};

  mutable Mutex mu_;
  // Entries are never removed before destruction, so Service pointers stay valid.
  std::map<std::string, std::unique_ptr<Service>> services_ GUARDED_BY(mu_);
  // The same services in the order they were added, for FindService without
  // the lock (every call looks its service up twice). Written under mu_;
  // slots below index_size_ never change. The count first: a lookup reads it
  // and the first entries from one cache line.
  std::atomic<size_t> index_size_{0};
  std::array<std::atomic<Service*>, kMaxServices> index_{};

  Mutex workers_mu_;
  CondVar workers_done_;
  int running_workers_ GUARDED_BY(workers_mu_) = 0;
};

// One server chosen by ServerCache::PickServer: reads like a const
// InstanceInfo (`server->id`, `*server`), costs one reference count to copy,
// and keeps the cached list it came from alive, so it stays valid after the
// list is replaced. Valid only while its ServerCache lives. Report it once
// (see PickServer). Copyable; not thread-safe itself (the reports are).
class PickedServer {
 public:
  const InstanceInfo& operator*() const { return *instance_; }
  const InstanceInfo* operator->() const { return instance_.get(); }

 private:
  friend class ServerCache;
  std::shared_ptr<const InstanceInfo> instance_;  // aliases the cached list
  CachedInstanceState* state_ = nullptr;          // owned by that list
  ServerCache::Service* service_ = nullptr;       // owned by the cache
  bool from_balancer_ = false;  // false for the soonest-back-up fallback
};

}  // namespace beacon::discovery
