// The service registry: servers register under a service name with a lease
// that they renew by heartbeat; clients look services up or watch them.
//
// Names and ids: 1-64 characters of [A-Za-z0-9._-].
// Hosts: 1-253 characters, no whitespace or control characters.
// Ports: 1-65535.
// Metadata: at most 32 entries; keys 1-64 characters of [A-Za-z0-9._-],
// values at most 256 bytes.
// Token: when the registry runs with a token, registerInstance, heartbeat and
// deregister must carry it (PERMISSION_DENIED otherwise). Lookups are open.
// Messages larger than 1 MiB are refused by the transport.

include "errors.thrift"

namespace cpp beacon.idl

struct Instance {
  1: string id,
  2: string host,
  3: i32 port,
  4: map<string, string> metadata,
}

// What a registration holds. lease_id is the proof of ownership: only the
// holder of the lease may heartbeat or deregister the instance.
struct Lease {
  1: string lease_id,
  2: i64 ttl_ms,
}

// A service's live membership. version changes on every membership change
// (an instance added, removed, expired, or its address/metadata changed) and
// only then. Versions only grow, also across registry restarts (they start
// from the registry's start time in microseconds).
struct Membership {
  1: string service_name,
  2: i64 version,
  3: list<Instance> instances,
}

struct ServiceSummary {
  1: string service_name,
  2: i32 instance_count,
  3: i64 version,
}

// The registry's own counters, for operators and tests (which poll them
// instead of guessing with sleeps). Every field is optional, so counters can
// be added (and old ones left unset) without breaking either side.
struct RegistryStats {
  // watch calls parked in the registry right now, waiting for a change or
  // for their max_wait_ms (calls answered at once are never counted).
  1: optional i32 waiting_watchers,
  // watch calls ended by a change of their service since the registry
  // started (timeouts and shutdown are not counted): a change wakes only
  // the watchers of the service that changed.
  2: optional i64 watchers_woken,
}

service Registry {
  // Registers (or refreshes) `instance` under `service_name` with a lease of
  // the registry's TTL. Idempotent: registering an id again with its current
  // lease_id, or from the same host:port, refreshes the lease, updates the
  // address/metadata and returns the same lease_id. An empty lease_id asks
  // for a new registration.
  // Throws INVALID_ARGUMENT (field named), PERMISSION_DENIED (token),
  // ALREADY_EXISTS (the id is live under another lease from another address),
  // RESOURCE_EXHAUSTED (instance limits).
  Lease registerInstance(1: string service_name, 2: Instance instance,
                         3: string lease_id, 4: string token)
      throws (1: errors.RegistryError err),

  // Renews the lease. Idempotent. Throws UNKNOWN_INSTANCE when the registry
  // does not hold the id (never registered, expired, registry restarted): the
  // caller should register again. PERMISSION_DENIED on a wrong token or a
  // lease_id that is not the current one.
  Lease heartbeat(1: string service_name, 2: string instance_id,
                  3: string lease_id, 4: string token)
      throws (1: errors.RegistryError err),

  // Removes the instance at once. Idempotent: an unknown id is not an error.
  // PERMISSION_DENIED on a wrong token or another holder's lease_id.
  void deregister(1: string service_name, 2: string instance_id,
                  3: string lease_id, 4: string token)
      throws (1: errors.RegistryError err),

  // The live instances of a service (empty with a version for an unknown
  // service). An instance whose lease has expired is never returned.
  Membership lookup(1: string service_name)
      throws (1: errors.RegistryError err),

  // Long poll, modelled on Consul's blocking queries: returns at once when
  // the service's version differs from known_version, otherwise when it
  // changes or after max_wait_ms (1..60000), whichever comes first; the reply
  // then carries the unchanged version. RESOURCE_EXHAUSTED when the registry's
  // watcher limit is reached.
  Membership watch(1: string service_name, 2: i64 known_version,
                   3: i32 max_wait_ms)
      throws (1: errors.RegistryError err),

  // Every service with at least one live instance, sorted by name.
  list<ServiceSummary> listServices(),

  // The registry's counters (see RegistryStats). Open like lookup. Added
  // after the other methods: an older registry answers it with
  // TApplicationException UNKNOWN_METHOD.
  RegistryStats stats(),

  // Liveness probe; does nothing.
  void ping(),
}
