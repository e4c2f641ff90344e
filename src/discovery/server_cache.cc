#include "discovery/server_cache.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "balance/balancer.h"
#include "core/validation.h"
#include "discovery/retry_backoff.h"

namespace beacon::discovery {
namespace {

constexpr int64_t kNotDown = std::numeric_limits<int64_t>::min();
constexpr size_t kNone = static_cast<size_t>(-1);

}  // namespace

// Mutable per-instance state, shared by successive snapshots while the
// instance keeps its address. Atomics, so reports need no lock.
// Aligned to a cache line: a call reads one line of it (down mark, counters).
struct alignas(64) CachedInstanceState {
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> down_until_us{kNotDown};

  bool DownAt(int64_t now_us) const { return down_until_us.load() > now_us; }
};

namespace {

using InstanceState = CachedInstanceState;

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

// An immutable cached list; replaced whole, never edited.
struct ServerCache::Snapshot {
  bool has_list = false;
  int64_t version = 0;
  // The registry listed no instance at `version`, and these are the last
  // ones it did list (see Adopt).
  bool holding_last_list = false;
  bool from_snapshot = false;  // read from the SnapshotStore, no registry confirmed it
  std::vector<InstanceInfo> instances;                 // sorted by id, ids unique
  std::vector<std::shared_ptr<InstanceState>> states;  // parallel to instances

  // States for `next` (sorted by id), parallel to it: an instance keeps its
  // state (statistics, down mark) while its address stays the same; one that
  // moved is a new process, so it keeps its statistics but no down mark.
  std::vector<std::shared_ptr<InstanceState>> CarryStatesTo(
      const std::vector<InstanceInfo>& next) const {
    std::vector<std::shared_ptr<InstanceState>> out;
    out.reserve(next.size());
    for (const InstanceInfo& instance : next) {
      const size_t i = Find(instance.id);
      if (i != kNone && instances[i].host == instance.host &&
          instances[i].port == instance.port) {
        out.push_back(states[i]);
        continue;
      }
      auto state = std::make_shared<InstanceState>();
      if (i != kNone) {
        state->calls = states[i]->calls.load();
        state->failures = states[i]->failures.load();
      }
      out.push_back(std::move(state));
    }
    return out;
  }

  size_t Find(const std::string& id) const {
    auto it = std::lower_bound(
        instances.begin(), instances.end(), id,
        [](const InstanceInfo& i, const std::string& v) { return i.id < v; });
    return it != instances.end() && it->id == id
               ? static_cast<size_t>(it - instances.begin())
               : kNone;
  }
};

struct alignas(64) ServerCache::Service {
  Service(std::string n, std::unique_ptr<balance::Balancer> b)
      : name(std::move(n)),
        balancer(std::move(b)),
        snapshot(std::make_shared<Snapshot>()) {}

  // The fields a common Pick reads come first, so that it touches two cache
  // lines of a Service, not four (a client thread that slept for its reply
  // pays for every line it touches, docs/ARCHITECTURE.md).
  const std::string name;
  const std::unique_ptr<balance::Balancer> balancer;  // itself safe for concurrent use
  std::atomic<bool> worker_started{false};            // set once worker_once has run
  // The latest down_until_us of any instance state of this service (raised
  // by MarkDown after it marks the state; never lowered): at or past it no
  // instance is down, and a Pick reads no instance's state.
  std::atomic<int64_t> latest_down_until_us{kNotDown};
  mutable Mutex mu;
  std::shared_ptr<const Snapshot> snapshot GUARDED_BY(mu);  // never null
  CondVar wake;  // (mu) stop, or a refresh request when watch=false
  int64_t confirmed_at_us GUARDED_BY(mu) = 0;
  uint64_t lookups_done GUARDED_BY(mu) = 0;
  Status last_lookup_status GUARDED_BY(mu);
  bool refresh_requested GUARDED_BY(mu) = false;
  int64_t registry_lookups GUARDED_BY(mu) = 0;
  int64_t watch_updates GUARDED_BY(mu) = 0;
  // When the last synchronous Lookup made because nothing was usable ended;
  // limits such Lookups to one per min_sync_lookup_interval_ms.
  int64_t last_sync_lookup_us GUARDED_BY(mu) = INT64_MIN;

  // Held across a synchronous Lookup so that Picks needing one share it.
  Mutex lookup_mu;
  std::once_flag worker_once;
  std::thread worker;  // set once under worker_once; joined by ~ServerCache
};

// What a Pick saw of a service at one instant.
struct ServerCache::Observed {
  std::shared_ptr<const Snapshot> snapshot;
  uint64_t lookups_done = 0;
};

namespace {

// The index of the instance the balancer chooses among those neither down nor
// excluded, or kNone. The common case (every instance usable) copies and
// allocates nothing.
// True when instance `i` is neither down at `now_us` nor excluded.
bool Usable(const std::vector<InstanceInfo>& instances,
            const std::vector<std::shared_ptr<InstanceState>>& states,
            const std::vector<std::string>& exclude, int64_t now_us, size_t i) {
  return !states[i]->DownAt(now_us) &&
         (exclude.empty() || !Contains(exclude, instances[i].id));
}

// ChooseUsable past its common case: instance `first_unusable` is down or
// excluded, so the balancer chooses among a copy of the usable ones. Out of
// line, so that the common case's code stays small.
[[gnu::noinline, gnu::cold]] size_t ChooseAmongUsable(
    balance::Balancer& balancer, const std::vector<InstanceInfo>& instances,
    const std::vector<std::shared_ptr<InstanceState>>& states,
    const std::vector<std::string>& exclude, int64_t now_us, size_t first_unusable) {
  std::vector<InstanceInfo> candidates(
      instances.begin(), instances.begin() + static_cast<long>(first_unusable));
  std::vector<size_t> index(first_unusable);
  for (size_t i = 0; i < first_unusable; ++i) index[i] = i;
  for (size_t i = first_unusable + 1; i < instances.size(); ++i) {
    if (!Usable(instances, states, exclude, now_us, i)) continue;
    candidates.push_back(instances[i]);
    index.push_back(i);
  }
  if (candidates.empty()) return kNone;
  return index[balancer.Pick(candidates)];
}

// The index of the instance the balancer chooses among those neither down nor
// excluded, or kNone. `maybe_down`: some instance may be down at `now_us`
// (when false, with nothing excluded, every instance is usable and no state
// is read). The common case (every instance usable) copies and allocates
// nothing.
BEACON_HOT size_t ChooseUsable(balance::Balancer& balancer,
                               const std::vector<InstanceInfo>& instances,
                               const std::vector<std::shared_ptr<InstanceState>>& states,
                               const std::vector<std::string>& exclude, int64_t now_us,
                               bool maybe_down) {
  const size_t n = instances.size();
  if (n == 0) return kNone;
  if (!maybe_down && exclude.empty()) return balancer.Pick(instances);
  size_t first_unusable = 0;
  while (first_unusable < n &&
         Usable(instances, states, exclude, now_us, first_unusable)) {
    ++first_unusable;
  }
  if (first_unusable == n) return balancer.Pick(instances);
  return ChooseAmongUsable(balancer, instances, states, exclude, now_us, first_unusable);
}

// The index of the non-excluded instance whose down mark expires first, or kNone.
size_t SoonestBackUp(const std::vector<InstanceInfo>& instances,
                     const std::vector<std::shared_ptr<InstanceState>>& states,
                     const std::vector<std::string>& exclude) {
  size_t best = kNone;
  int64_t best_until = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < instances.size(); ++i) {
    if (Contains(exclude, instances[i].id)) continue;
    const int64_t until = states[i]->down_until_us.load();
    if (best == kNone || until < best_until) {
      best = i;
      best_until = until;
    }
  }
  return best;
}

}  // namespace

Result<std::unique_ptr<ServerCache>> ServerCache::Create(
    std::shared_ptr<RegistryClient> registry, const Clock& clock,
    ServerCacheOptions options, std::shared_ptr<SnapshotStore> snapshot) {
  if (!registry) return InvalidArgument("registry must not be null");
  balance::BalancerContext context;
  context.decay_window_ms = options.balancer_decay_window_ms;
  auto balancer = balance::MakeBalancer(options.balancer, context);
  if (!balancer.ok()) return balancer.status();
  if (options.down_cooloff_ms < 0) {
    return InvalidArgument("down_cooloff_ms must be >= 0, got " +
                           std::to_string(options.down_cooloff_ms));
  }
  if (options.watch_max_wait_ms <= 0) {
    return InvalidArgument("watch_max_wait_ms must be > 0, got " +
                           std::to_string(options.watch_max_wait_ms));
  }
  if (options.retry_min_ms <= 0) {
    return InvalidArgument("retry_min_ms must be > 0, got " +
                           std::to_string(options.retry_min_ms));
  }
  if (options.retry_max_ms < options.retry_min_ms) {
    return InvalidArgument("retry_max_ms must be >= retry_min_ms (" +
                           std::to_string(options.retry_min_ms) + "), got " +
                           std::to_string(options.retry_max_ms));
  }
  return std::unique_ptr<ServerCache>(new ServerCache(
      std::move(registry), clock, std::move(options), std::move(snapshot)));
}

ServerCache::ServerCache(std::shared_ptr<RegistryClient> registry, const Clock& clock,
                         ServerCacheOptions options,
                         std::shared_ptr<SnapshotStore> snapshot)
    : registry_(std::move(registry)),
      snapshot_(std::move(snapshot)),
      clock_(clock),
      options_(std::move(options)) {}

ServerCache::~ServerCache() {
  stopping_ = true;
  std::vector<Service*> all;
  {
    MutexLock lock(mu_);
    for (auto& entry : services_) all.push_back(entry.second.get());
  }
  for (Service* s : all) {
    // Notifying under the lock: a worker between its check and its wait
    // cannot miss the flag.
    MutexLock lock(s->mu);
    s->wake.NotifyAll();
  }
  // A worker may enter Watch just after a cancel, so cancel until all have
  // left their loops; each round is short.
  for (;;) {
    {
      MutexLock lock(workers_mu_);
      if (running_workers_ == 0) break;
    }
    registry_->CancelWatches();
    MutexLock lock(workers_mu_);
    workers_done_.WaitFor(workers_mu_, std::chrono::milliseconds(10), [&] {
      workers_mu_.AssertHeld();
      return running_workers_ == 0;
    });
  }
  for (Service* s : all) {
    if (s->worker.joinable()) s->worker.join();
  }
}

Result<PickedServer> ServerCache::PickServer(const std::string& service,
                                             const std::vector<std::string>& exclude) {
  return PickServer(service, exclude, clock_.NowMicros());
}

Result<PickedServer> ServerCache::PickServer(const std::string& service,
                                             const std::vector<std::string>& exclude,
                                             int64_t now_us) {
  // The common Pick: a service in use (listed, its worker started) with a
  // usable server cached.
  if (Service* known = FindService(service);
      known != nullptr && known->worker_started.load(std::memory_order_acquire)) {
    Observed seen = Observe(*known);
    const Snapshot* snap = seen.snapshot.get();
    if (snap->has_list) {
      const size_t chosen = ChooseUsable(*known->balancer, snap->instances, snap->states,
                                         exclude, now_us, MaybeDown(*known, now_us));
      if (chosen != kNone) {
        return Handle(*known, std::move(seen.snapshot), chosen, /*from_balancer=*/true);
      }
    }
  }
  return PickServerSlow(service, exclude, now_us);
}

Result<PickedServer> ServerCache::PickServerSlow(const std::string& service,
                                                 const std::vector<std::string>& exclude,
                                                 int64_t now_us) {
  Result<Service*> found = FindOrAddService(service);
  if (!found.ok()) return found.status();
  Service& s = **found;

  Observed seen = Observe(s);
  // The synchronous Lookup this Pick made or shared, if any.
  std::optional<Status> lookup = EnsureListed(s, seen);
  if (lookup) now_us = clock_.NowMicros();  // the Lookup took time

  // A handle on instance `i` of the list `seen` holds.
  const auto picked = [&](size_t i, bool from_balancer) {
    return Handle(s, std::move(seen.snapshot), i, from_balancer);
  };

  const Snapshot* snap = seen.snapshot.get();
  if (snap->has_list) {
    const size_t chosen = ChooseUsable(*s.balancer, snap->instances, snap->states,
                                       exclude, now_us, MaybeDown(s, now_us));
    if (chosen != kNone) return picked(chosen, /*from_balancer=*/true);
  }
  bool lookup_allowed = true;
  {
    MutexLock lock(s.mu);
    lookup_allowed = s.last_sync_lookup_us == INT64_MIN ||
                     clock_.NowMicros() - s.last_sync_lookup_us >=
                         options_.min_sync_lookup_interval_ms * 1000;
  }
  if (!lookup && lookup_allowed) {
    lookup = LookupForPick(s, seen.lookups_done);
    {
      MutexLock lock(s.mu);
      s.last_sync_lookup_us = clock_.NowMicros();
    }
    seen = Observe(s);
    snap = seen.snapshot.get();
    if (snap->has_list) {
      const int64_t now = clock_.NowMicros();
      const size_t chosen = ChooseUsable(*s.balancer, snap->instances, snap->states,
                                         exclude, now, MaybeDown(s, now));
      if (chosen != kNone) return picked(chosen, /*from_balancer=*/true);
    }
  }
  if (snap->has_list) {
    const size_t fallback = SoonestBackUp(snap->instances, snap->states, exclude);
    if (fallback != kNone) return picked(fallback, /*from_balancer=*/false);
  } else if (!lookup->ok()) {
    return NeverListedError(service, *lookup);
  }
  std::string message = "no live servers for service '" + service + "'";
  if (lookup && !lookup->ok()) {
    message += " (registry " + registry_->Address() + ": " + lookup->message() + ")";
  }
  return Unavailable(std::move(message));
}

Result<InstanceInfo> ServerCache::Pick(const std::string& service,
                                       const std::vector<std::string>& exclude) {
  Result<PickedServer> server = PickServer(service, exclude);
  if (!server.ok()) return server.status();
  return **server;
}

Status ServerCache::Load(const std::string& service) {
  Result<Service*> found = FindOrAddService(service);
  if (!found.ok()) return found.status();
  Observed seen = Observe(**found);
  const std::optional<Status> lookup = EnsureListed(**found, seen);
  if (seen.snapshot->has_list) return Status::Ok();
  return NeverListedError(service, lookup ? *lookup : Status::Ok());
}

void ServerCache::ReportSuccess(const PickedServer& server, int64_t latency_us) {
  ++server.state_->calls;
  if (server.from_balancer_) {
    server.service_->balancer->OnOutcome(server->id, /*ok=*/true, latency_us);
  }
}

void ServerCache::ReportTransportFailure(const PickedServer& server) {
  ++server.state_->calls;
  ++server.state_->failures;
  if (server.from_balancer_) {
    server.service_->balancer->OnOutcome(server->id, /*ok=*/false, 0);
  }
  MarkDown(*server.service_, server.state_);
}

void ServerCache::ReportSuccess(const std::string& service,
                                const std::string& instance_id, int64_t latency_us) {
  Service* s = FindService(service);
  if (s == nullptr) return;
  const Observed seen = Observe(*s);
  const size_t i = seen.snapshot->Find(instance_id);
  if (i != kNone) ++seen.snapshot->states[i]->calls;
  s->balancer->OnOutcome(instance_id, /*ok=*/true, latency_us);
}

void ServerCache::ReportTransportFailure(const std::string& service,
                                         const std::string& instance_id) {
  Service* s = FindService(service);
  if (s == nullptr) return;
  const Observed seen = Observe(*s);
  const size_t i = seen.snapshot->Find(instance_id);
  InstanceState* state = nullptr;
  if (i != kNone) {
    state = seen.snapshot->states[i].get();
    ++state->calls;
    ++state->failures;
  }
  s->balancer->OnOutcome(instance_id, /*ok=*/false, 0);
  MarkDown(*s, state);
}

void ServerCache::MarkDown(Service& s, CachedInstanceState* state) {
  if (state != nullptr) {
    const int64_t until = clock_.NowMicros() + options_.down_cooloff_ms * 1000;
    state->down_until_us = until;
    // After the state: a Pick that sees the new bound reads the states.
    int64_t latest = s.latest_down_until_us.load();
    while (latest < until &&
           !s.latest_down_until_us.compare_exchange_weak(latest, until)) {
    }
  }
  {
    MutexLock lock(s.mu);
    s.refresh_requested = true;
  }
  s.wake.NotifyAll();
}

ServiceView ServerCache::View(const std::string& service) const {
  ServiceView view;
  view.service_name = service;
  view.balancer = options_.balancer;
  const Service* s = FindService(service);
  if (s == nullptr) return view;

  std::shared_ptr<const Snapshot> snap;
  int64_t confirmed_at_us = 0;
  {
    MutexLock lock(s->mu);
    snap = s->snapshot;
    confirmed_at_us = s->confirmed_at_us;
    view.registry_lookups = s->registry_lookups;
    view.watch_updates = s->watch_updates;
  }
  view.balancer = std::string(s->balancer->Name());
  view.has_list = snap->has_list;
  view.version = snap->version;
  view.holding_last_list = snap->holding_last_list;
  view.from_snapshot = snap->from_snapshot;
  const int64_t now = clock_.NowMicros();
  if (snap->has_list) view.age_ms = std::max<int64_t>(0, (now - confirmed_at_us) / 1000);
  for (size_t i = 0; i < snap->instances.size(); ++i) {
    const InstanceState& state = *snap->states[i];
    InstanceView iv;
    iv.instance = snap->instances[i];
    iv.calls = state.calls.load();
    iv.failures = state.failures.load();
    const int64_t until = state.down_until_us.load();
    iv.down = until > now;
    iv.down_remaining_ms = iv.down ? (until - now + 999) / 1000 : 0;
    view.instances.push_back(std::move(iv));
  }
  return view;
}

std::vector<std::string> ServerCache::Services() const {
  MutexLock lock(mu_);
  std::vector<std::string> names;
  for (const auto& entry : services_) names.push_back(entry.first);
  return names;
}

Result<ServerCache::Service*> ServerCache::FindOrAddService(const std::string& name) {
  // Every call goes through here: services in use are found without a lock
  // or a validation (only valid names are ever added).
  if (Service* known = FindService(name)) return known;
  if (Status valid = ValidateName("service", name); !valid.ok()) return valid;
  MutexLock lock(mu_);
  auto it = services_.find(name);
  if (it != services_.end()) return it->second.get();
  if (services_.size() >= kMaxServices) {
    return ResourceExhausted("a session uses at most " + std::to_string(kMaxServices) +
                             " services; '" + name + "' would be one more");
  }
  balance::BalancerContext context;
  context.clock = &clock_;
  context.decay_window_ms = options_.balancer_decay_window_ms;
  auto balancer = balance::MakeBalancer(options_.balancer, context);
  if (!balancer.ok()) return balancer.status();  // validated by Create
  auto added = std::make_unique<Service>(name, std::move(balancer).value());
  Service* raw = added.get();
  services_.emplace(name, std::move(added));
  // Published after the slot is written, so a reader that sees the new size
  // sees the pointer.
  const size_t n = index_size_.load(std::memory_order_relaxed);
  index_[n].store(raw, std::memory_order_relaxed);
  index_size_.store(n + 1, std::memory_order_release);
  return raw;
}

ServerCache::Service* ServerCache::FindService(const std::string& name) const {
  const size_t n = index_size_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Service* s = index_[i].load(std::memory_order_relaxed);
    if (s->name == name) return s;
  }
  return nullptr;
}

PickedServer ServerCache::Handle(Service& s, std::shared_ptr<const Snapshot> snapshot,
                                 size_t i, bool from_balancer) {
  PickedServer p;
  const Snapshot* snap = snapshot.get();
  p.state_ = snap->states[i].get();
  p.service_ = &s;
  p.from_balancer_ = from_balancer;
  p.instance_ =
      std::shared_ptr<const InstanceInfo>(std::move(snapshot), &snap->instances[i]);
  return p;
}

bool ServerCache::MaybeDown(const Service& s, int64_t now_us) {
  return now_us < s.latest_down_until_us.load();
}

ServerCache::Observed ServerCache::Observe(const Service& s) {
  MutexLock lock(s.mu);
  return Observed{s.snapshot, s.lookups_done};
}

std::optional<Status> ServerCache::EnsureListed(Service& s, Observed& seen) {
  std::optional<Status> lookup;
  if (!seen.snapshot->has_list) {
    lookup = LookupForPick(s, seen.lookups_done);
    seen = Observe(s);
    // No registry reachable and nothing cached: start from the snapshot.
    if (!seen.snapshot->has_list && lookup->code() == StatusCode::kUnavailable &&
        AdoptSnapshot(s)) {
      seen = Observe(s);
    }
  }
  StartWorker(s);
  return lookup;
}

Status ServerCache::NeverListedError(const std::string& service,
                                     const Status& lookup) const {
  if (lookup.code() == StatusCode::kUnavailable) {
    return Unavailable("registry " + registry_->Address() +
                       " unreachable and no cached servers: " + lookup.message());
  }
  if (!lookup.ok()) return lookup;  // e.g. kInvalidArgument from the registry
  // Unreachable in practice: a successful Lookup leaves a list behind.
  return Unavailable("no live servers for service '" + service + "'");
}

Status ServerCache::LookupForPick(Service& s, uint64_t seen_lookups) {
  MutexLock single_flight(s.lookup_mu);
  {
    MutexLock lock(s.mu);
    // A Lookup finished after this Pick looked at the cache: use its answer.
    if (s.lookups_done != seen_lookups) return s.last_lookup_status;
  }
  return RunLookup(s);
}

Status ServerCache::RunLookup(Service& s) {
  {
    MutexLock lock(s.mu);
    ++s.registry_lookups;
  }
  Result<Membership> answer = registry_->Lookup(s.name);
  // Adopt before counting the Lookup as done, so whoever sees the count
  // also sees the list.
  if (answer.ok()) Adopt(s, *answer, /*from_watch=*/false);
  MutexLock lock(s.mu);
  ++s.lookups_done;
  s.last_lookup_status = answer.ok() ? Status::Ok() : answer.status();
  return s.last_lookup_status;
}

void ServerCache::Adopt(Service& s, const Membership& m, bool from_watch) {
  const int64_t now = clock_.NowMicros();
  std::vector<InstanceInfo> sorted = m.instances;
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const InstanceInfo& a, const InstanceInfo& b) { return a.id < b.id; });
  sorted.erase(std::unique(sorted.begin(), sorted.end(),
                           [](const InstanceInfo& a, const InstanceInfo& b) {
                             return a.id == b.id;
                           }),
               sorted.end());
  for (;;) {
    std::shared_ptr<const Snapshot> old;
    {
      MutexLock lock(s.mu);
      old = s.snapshot;
      if (old->has_list && old->version == m.version && !old->from_snapshot) {
        s.confirmed_at_us = now;
        break;
      }
    }
    // Build outside the lock.
    auto next = std::make_shared<Snapshot>();
    next->has_list = true;
    next->version = m.version;
    // An empty answer never replaces a non-empty list (Eureka calls this
    // self-preservation). A registry that just restarted lists nobody until
    // the replicas' next heartbeats re-register them; dropping the list then
    // would fail every call although the replicas are fine. If they really
    // are gone, calls to them fail in the transport, mark them down and fail
    // over exactly as without this rule; the next non-empty answer replaces
    // the held list.
    if (sorted.empty() && !old->instances.empty()) {
      next->holding_last_list = true;
      next->instances = old->instances;
      next->states = old->states;
    } else {
      next->instances = sorted;
      next->states = old->CarryStatesTo(sorted);
    }
    MutexLock lock(s.mu);
    if (s.snapshot != old) continue;  // replaced meanwhile: rebuild from the newer one
    s.snapshot = std::move(next);
    s.confirmed_at_us = now;
    if (from_watch) ++s.watch_updates;
    break;
  }
  // Outside every lock but lookup_mu (held by synchronous Lookups): the file
  // write is short and happens only when the list changed or aged.
  if (snapshot_ && !sorted.empty()) snapshot_->Save(s.name, sorted);
}

bool ServerCache::AdoptSnapshot(Service& s) {
  if (!snapshot_) return false;
  std::optional<SavedList> saved = snapshot_->Load(s.name);
  if (!saved || saved->instances.empty()) return false;
  std::vector<InstanceInfo> sorted = saved->instances;
  std::sort(sorted.begin(), sorted.end(),
            [](const InstanceInfo& a, const InstanceInfo& b) { return a.id < b.id; });
  sorted.erase(std::unique(sorted.begin(), sorted.end(),
                           [](const InstanceInfo& a, const InstanceInfo& b) {
                             return a.id == b.id;
                           }),
               sorted.end());
  auto next = std::make_shared<Snapshot>();
  next->has_list = true;
  next->from_snapshot = true;
  next->instances = sorted;
  next->states = Snapshot().CarryStatesTo(sorted);
  MutexLock lock(s.mu);
  if (s.snapshot->has_list) return true;  // a registry answered meanwhile
  s.snapshot = std::move(next);
  // Its age counts from when a registry gave it, in an earlier session.
  s.confirmed_at_us = clock_.NowMicros() - saved->age_ms * 1000;
  // The background thread keeps asking (with backoff) until a registry answers.
  s.refresh_requested = true;
  return true;
}

void ServerCache::StartWorker(Service& s) {
  // Picks that miss the fast path pass here: after the first, one load
  // instead of call_once (which sets thread-locals before it checks).
  if (s.worker_started.load(std::memory_order_acquire)) return;
  std::call_once(s.worker_once, [this, &s] {
    {
      MutexLock lock(workers_mu_);
      ++running_workers_;
    }
    s.worker = std::thread([this, &s] {
      RunWorker(s);
      MutexLock lock(workers_mu_);
      --running_workers_;
      workers_done_.NotifyAll();
    });
    s.worker_started.store(true, std::memory_order_release);
  });
}

void ServerCache::RunWorker(Service& s) {
  RetryBackoff backoff(options_.retry_min_ms, options_.retry_max_ms,
                       std::random_device{}());
  // Without a list the caller's Lookup has just failed: wait before retrying.
  bool last_failed = !Observe(s).snapshot->has_list;
  while (true) {
    bool use_lookup = false;
    int64_t known_version = 0;
    {
      MutexLock lock(s.mu);
      if (last_failed) {
        s.wake.WaitFor(s.mu, std::chrono::milliseconds(backoff.NextDelayMs()),
                       [this] { return stopping_.load(); });
      } else if (!options_.watch) {
        s.wake.Wait(s.mu, [this, &s] {
          s.mu.AssertHeld();
          return stopping_.load() || s.refresh_requested;
        });
      }
      if (stopping_) return;
      use_lookup = !options_.watch || s.refresh_requested || !s.snapshot->has_list;
      s.refresh_requested = false;
      known_version = s.snapshot->version;
    }
    Status outcome;
    if (use_lookup) {
      outcome = RunLookup(s);
    } else {
      Result<Membership> answer =
          registry_->Watch(s.name, known_version, options_.watch_max_wait_ms);
      if (answer.ok() && !stopping_) Adopt(s, *answer, /*from_watch=*/true);
      outcome = answer.ok() ? Status::Ok() : answer.status();
    }
    if (stopping_) return;
    last_failed = !outcome.ok();
    if (outcome.ok()) {
      backoff.Reset();
    } else if (use_lookup) {
      MutexLock lock(s.mu);
      s.refresh_requested = true;  // still owed: retry after the backoff
    }
  }
}

}  // namespace beacon::discovery
