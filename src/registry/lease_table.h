// LeaseTable: the whole logic of the service registry, free of any transport.
// Servers register instances under a service name with a lease and keep it by
// heartbeat; clients look services up or watch them for changes. The registry
// program's Thrift handler only translates requests and replies to and from
// this class.
//
// Time: leases and Watch's wait are both measured on the injected Clock (so
// tests use a FakeClock and move it instead of sleeping).
//
// Lease boundary: a lease granted (or renewed) at time t with ttl T covers
// [t, t+T): the instance is live at t+T-1us and expired at exactly t+T.
//
// Versions: one table-wide counter that starts at initial_version. Every
// membership change of a service (instance added, removed, expired, or its
// host/port/metadata changed) sets that service's version to ++counter, and
// nothing else changes it (a plain lease refresh does not). A service that
// was never seen has version 0 and no instances.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/membership.h"
#include "core/mutex.h"
#include "core/status.h"
#include "registry/lease_observer.h"

namespace beacon::registry {

// Longest lease_id accepted from a caller (the ids we issue are 32 chars).
inline constexpr size_t kMaxLeaseIdLength = 64;
// Most metadata entries per instance; each value is 0-256 bytes of UTF-8.
inline constexpr size_t kMaxMetadataEntries = 32;
inline constexpr size_t kMaxMetadataValueBytes = 256;

struct LeaseTableOptions {
  int64_t ttl_ms = 3000;                   // lease length, 1..86'400'000
  size_t max_instances_per_service = 256;  // live instances in one service
  size_t max_instances_total = 4096;       // live instances in all services
  size_t max_watchers = 2048;              // concurrent waiting Watch calls
  // Services held, including emptied services kept as tombstones: when a new
  // service needs room, the empty service that changed longest ago is
  // forgotten (its version reads 0 again).
  size_t max_services = 1024;
  std::string token;              // empty = no token required
  int max_watch_wait_ms = 60000;  // upper bound of Watch's max_wait_ms

  // InvalidArgument naming the first option out of range (every limit must
  // be >= 1). Call it on options parsed from the command line before
  // constructing a LeaseTable.
  Status Validate() const;
};

// Proof of ownership of one registered instance.
struct Lease {
  std::string lease_id;  // 32 lower-case hex chars (128 random bits)
  int64_t ttl_ms = 0;    // the lease length granted
};

struct ServiceSummary {
  std::string service_name;
  int instance_count = 0;
  int64_t version = 0;
};

// One live instance with its lease, for views of the table (the dashboard).
// Times are on the table's Clock.
struct InstanceDetail {
  InstanceInfo info;
  int64_t registered_at_micros = 0;  // when this registration began
  int64_t renewed_at_micros = 0;     // last register/heartbeat that renewed it
  int64_t expires_at_micros = 0;     // live while now < expires_at_micros
  int64_t heartbeats = 0;            // heartbeats received since registered
};

// A service held by the table (also one emptied but still remembered, with
// no instances), its version and its live instances sorted by id.
struct ServiceDetail {
  std::string service_name;
  int64_t version = 0;
  std::vector<InstanceDetail> instances;
};

// Every service held, sorted by name, as of now_micros on the table's Clock.
struct TableDetail {
  int64_t now_micros = 0;
  int64_t ttl_ms = 0;
  std::vector<ServiceDetail> services;
};

// A service's membership at one version, built once per version and shared
// by every watcher and lookup that reads that version. Never modified.
using MembershipSnapshot = std::shared_ptr<const Membership>;

// Called exactly once with the membership that ends a parked watch (see
// LeaseTable::StartWatch). Runs on the thread that made the change (or called
// Shutdown), after the table's lock is released: it must be quick and must
// not call back into the table.
using WatchCompletion = std::function<void(MembershipSnapshot)>;

// What StartWatch did: answered at once (`now` set) or parked (`ticket` set,
// `now` null; the completion will run later unless CancelWatch takes it back).
struct WatchStart {
  MembershipSnapshot now;
  uint64_t ticket = 0;
};

struct ExpiredInstance {
  std::string service_name;
  std::string instance_id;
};

// Safe for concurrent use: one mutex, held briefly, never while waiting,
// sleeping or doing I/O.
class LeaseTable {
 public:
  // `clock` must outlive the table. Requires options.Validate().ok().
  // Versions handed out are > initial_version (registry_svc passes wall-clock
  // micros so versions grow across restarts); a negative value counts as 0.
  LeaseTable(const Clock& clock, LeaseTableOptions options, int64_t initial_version);
  // Every Watch must have returned (call Shutdown() and join the callers).
  ~LeaseTable();

  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // Registers `instance` under `service` with a lease of options.ttl_ms.
  // - A new (or expired) id gets a fresh random lease_id whatever lease_id
  //   says (empty asks for a new registration).
  // - A live id whose current lease_id equals `lease_id`, or whose registered
  //   host:port equals instance.host:port (the same server retrying, or
  //   restarted on the same address), is refreshed: expiry moves to now+ttl,
  //   host/port/metadata are replaced and the SAME lease_id is returned. The
  //   version changes only if host/port/metadata did.
  // Errors: kPermissionDenied (token wrong, checked first); kInvalidArgument
  // naming the field ("service_name", "instance.id", "instance.host",
  // "instance.port", "instance.metadata", "instance.metadata key",
  // "instance.metadata value", "lease_id"); kAlreadyExists when the id is live
  // under another lease from another address (the message says who holds it
  // and when it expires); kResourceExhausted when adding the instance would
  // pass max_instances_per_service, max_instances_total or max_services;
  // kUnavailable if the system's random source is not ready.
  Result<Lease> Register(const std::string& service, const InstanceInfo& instance,
                         const std::string& lease_id, const std::string& token);

  // Renews the lease to now+ttl. Never changes a version.
  // Errors: kPermissionDenied (token wrong, or lease_id is not the current
  // lease); kInvalidArgument (service_name, instance_id, lease_id);
  // kUnknownInstance when the id is not live (never registered, expired,
  // deregistered): the caller should Register again.
  Result<Lease> Heartbeat(const std::string& service, const std::string& instance_id,
                          const std::string& lease_id, const std::string& token);

  // Removes the instance at once (version bump, watchers woken). Idempotent:
  // an id that is not live is Ok.
  // Errors: kPermissionDenied (token wrong, or lease_id is not the current
  // lease); kInvalidArgument (service_name, instance_id, lease_id).
  Status Deregister(const std::string& service, const std::string& instance_id,
                    const std::string& lease_id, const std::string& token);

  // The live instances of `service`, sorted by id, with its version (0 and no
  // instances for a service never seen). Never returns an expired lease.
  // Errors: kInvalidArgument (service_name).
  Result<Membership> Lookup(const std::string& service);

  // Long poll. Returns at once when the service's version != known_version
  // or after Shutdown(); otherwise blocks (without holding the lock) until
  // the version changes, max_wait_ms passes on the table's Clock (then
  // returns the unchanged membership) or Shutdown() is called. A change of
  // another service does not end the wait.
  // The reply never holds an expired lease, but an expiry wakes watchers
  // only when something expires it: SweepExpired (run it periodically) or
  // any other call on the table.
  // Errors: kInvalidArgument (service_name, or max_wait_ms outside
  // 1..options.max_watch_wait_ms); kResourceExhausted when max_watchers calls
  // are already waiting.
  // Thread per watcher: built on StartWatch/CancelWatch, waiting on its own
  // condition variable, so a change wakes only its own service's watchers.
  Result<Membership> Watch(const std::string& service, int64_t known_version,
                           int max_wait_ms);

  // Watch without a thread: for event-driven servers. When the version of
  // `service` differs from known_version (or after Shutdown) returns the
  // current snapshot in `now`; otherwise parks `done` and returns a ticket.
  // `done` then runs exactly once, with the new snapshot when the service's
  // version changes or with the current one at Shutdown, unless CancelWatch
  // takes it back first. Every watcher of one version gets the same
  // snapshot object. The caller enforces max_wait_ms (validated here; call
  // CancelWatch when it passes). Errors as for Watch; `done` is not kept then.
  Result<WatchStart> StartWatch(const std::string& service, int64_t known_version,
                                int max_wait_ms, WatchCompletion done);

  // Takes back a parked watch (its wait ended). Returns the current snapshot
  // of `service` when the watch was still parked (its completion will never
  // run), or null when its completion has run or is running on another
  // thread (it will deliver the reply).
  MembershipSnapshot CancelWatch(const std::string& service, uint64_t ticket);

  // Every service with at least one live instance, sorted by name.
  std::vector<ServiceSummary> ListServices();

  // Removes every expired instance (version bumps, watchers woken) and
  // returns, for logging, every instance that expired since the previous call,
  // including those expired on the way by other calls (at most
  // options.max_instances_total entries; further ones are not listed).
  // Meant for a sweeper thread calling it every ttl/10 or so.
  std::vector<ExpiredInstance> SweepExpired();

  // Wakes every waiting Watch (each returns the current membership) and makes
  // later Watch calls return at once. Everything else keeps working.
  void Shutdown();

  // Watch calls currently waiting (parked by Watch or StartWatch).
  size_t watcher_count() const;

  // Every service held with its live instances' lease details (expiring due
  // leases first, like every read). For views such as the HTTP dashboard.
  TableDetail Detail();

  // Adds an observer told of every later change (see LeaseObserver). Call it
  // before the table is shared; `observer` must outlive the table.
  void AddObserver(LeaseObserver* observer);

  // Parked watches completed because their service's version changed, since
  // the table was created (timeouts, cancels and Shutdown are not counted).
  // Lets tests and benchmarks check that a change wakes only its service.
  uint64_t watchers_woken() const;

 private:
  struct InstanceEntry {
    InstanceInfo info;
    std::string lease_id;
    int64_t expires_at_micros = 0;  // live while now < expires_at_micros
    int64_t registered_at_micros = 0;
    int64_t renewed_at_micros = 0;
    int64_t heartbeats = 0;
  };
  struct ServiceEntry {
    int64_t version = 0;
    std::map<std::string, InstanceEntry> instances;  // by id
    // Built on first read after a change (null until then), shared by readers.
    MembershipSnapshot snapshot;
  };
  // Parked watches of one service, by ticket.
  using ParkedWatches = std::map<uint64_t, WatchCompletion>;
  // Wakes the watchers of every service changed while it was in scope, when
  // destroyed; declared before the lock so it runs after the lock is
  // released (completions never run under the table's lock).
  class WakeWatchersOnExit;
  // Orders every live lease by expiry so expiring is O(expired * log n).
  struct ExpiryKey {
    int64_t expires_at_micros;
    std::string service;
    std::string instance_id;
    bool operator<(const ExpiryKey& o) const;
  };
  using ServiceMap = std::map<std::string, ServiceEntry>;

  bool TokenMatches(const std::string& token) const;
  // Those returning bool return whether a
  // membership changed (so the caller wakes watchers after unlocking).
  bool ExpireDueLocked(int64_t now_micros) REQUIRES(mu_);
  void MarkChangedLocked(const std::string& service, ServiceEntry* entry) REQUIRES(mu_);
  void RemoveInstanceLocked(ServiceMap::iterator service,
                            std::map<std::string, InstanceEntry>::iterator instance)
      REQUIRES(mu_);
  void SetExpiryLocked(const std::string& service, InstanceEntry* entry,
                       int64_t expires_at_micros) REQUIRES(mu_);
  Status CheckRoomForInstanceLocked(const std::string& service,
                                    const ServiceEntry* entry) const REQUIRES(mu_);
  int64_t VersionLocked(const std::string& service) const REQUIRES(mu_);
  void NotifyLocked(LeaseEventKind kind, const std::string& service,
                    const InstanceInfo& instance, const std::string& reason = {})
      REQUIRES(mu_);
  MembershipSnapshot SnapshotLocked(const std::string& service) REQUIRES(mu_);
  // Hands every parked watch of the changed services its new snapshot.
  void WakeChangedServices() EXCLUDES(mu_);

  const Clock& clock_;
  const LeaseTableOptions options_;

  mutable Mutex mu_;
  ServiceMap services_ GUARDED_BY(mu_);
  std::set<ExpiryKey> expiry_queue_ GUARDED_BY(mu_);
  std::set<std::pair<int64_t, std::string>> tombstones_
      GUARDED_BY(mu_);  // (version, service)
  std::vector<ExpiredInstance> unreported_expiries_ GUARDED_BY(mu_);
  size_t total_instances_ GUARDED_BY(mu_) = 0;
  int64_t last_version_ GUARDED_BY(mu_);
  size_t watcher_count_ GUARDED_BY(mu_) = 0;  // parked watches, all services
  std::map<std::string, ParkedWatches> parked_ GUARDED_BY(mu_);  // by service
  std::set<std::string> changed_services_ GUARDED_BY(mu_);       // not yet woken
  uint64_t next_ticket_ GUARDED_BY(mu_) = 1;
  uint64_t watchers_woken_ GUARDED_BY(mu_) = 0;
  bool shut_down_ GUARDED_BY(mu_) = false;
  std::vector<LeaseObserver*> observers_ GUARDED_BY(mu_);
};

}  // namespace beacon::registry
