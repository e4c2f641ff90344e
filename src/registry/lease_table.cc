#include "registry/lease_table.h"

#include <sys/random.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <tuple>

#include "core/endpoint.h"
#include "core/validation.h"

namespace beacon::registry {
namespace {

constexpr int64_t kMaxTtlMs = 86'400'000;  // a day; keeps micros far from overflow

// Compares in time that depends only on expected.size(), never on where the
// strings first differ, so a caller cannot guess a secret byte by byte.
bool ConstantTimeEquals(const std::string& expected, const std::string& given) {
  volatile unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (static_cast<unsigned char>(expected[i]) ^ g);
  }
  return diff == 0;
}

// 128 bits from the kernel's CSPRNG as 32 lower-case hex chars. Never blocks:
// kUnavailable if the entropy pool is not initialised yet (early boot).
Result<std::string> NewLeaseId() {
  unsigned char bytes[16];
  size_t filled = 0;
  while (filled < sizeof bytes) {
    const ssize_t n = getrandom(bytes + filled, sizeof bytes - filled, GRND_NONBLOCK);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable(std::string("cannot draw a random lease id: ") +
                         std::strerror(errno));
    }
    filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(2 * sizeof bytes);
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xF];
  }
  return id;
}

Status ValidateLeaseId(const std::string& lease_id) {
  if (lease_id.size() > kMaxLeaseIdLength) {
    return InvalidArgument("lease_id must be at most " +
                           std::to_string(kMaxLeaseIdLength) + " characters, got " +
                           std::to_string(lease_id.size()));
  }
  return Status::Ok();
}

Status ValidateInstance(const InstanceInfo& instance) {
  if (Status s = ValidateName("instance.id", instance.id); !s.ok()) return s;
  if (Status s = ValidateHost("instance.host", instance.host); !s.ok()) return s;
  if (Status s = ValidatePort("instance.port", instance.port); !s.ok()) return s;
  if (instance.metadata.size() > kMaxMetadataEntries) {
    return InvalidArgument("instance.metadata must have at most " +
                           std::to_string(kMaxMetadataEntries) + " entries, got " +
                           std::to_string(instance.metadata.size()));
  }
  for (const auto& [key, value] : instance.metadata) {
    if (Status s = ValidateName("instance.metadata key", key); !s.ok()) return s;
    if (Status s = ValidateText("instance.metadata value for key " + key, value, 0,
                                kMaxMetadataValueBytes);
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

// Shared by Heartbeat and Deregister.
Status ValidateInstanceRef(const std::string& service, const std::string& instance_id,
                           const std::string& lease_id) {
  if (Status s = ValidateName("service_name", service); !s.ok()) return s;
  if (Status s = ValidateName("instance_id", instance_id); !s.ok()) return s;
  return ValidateLeaseId(lease_id);
}

std::string Describe(const std::string& service, const std::string& instance_id) {
  return "instance id " + QuoteForMessage(instance_id) + " in service " +
         QuoteForMessage(service);
}

}  // namespace

const char* LeaseEventKindName(LeaseEventKind kind) {
  switch (kind) {
    case LeaseEventKind::kRegistered:
      return "registered";
    case LeaseEventKind::kUpdated:
      return "updated";
    case LeaseEventKind::kHeartbeat:
      return "heartbeat";
    case LeaseEventKind::kDeregistered:
      return "deregistered";
    case LeaseEventKind::kExpired:
      return "expired";
  }
  return "unknown";
}

class LeaseTable::WakeWatchersOnExit {
 public:
  explicit WakeWatchersOnExit(LeaseTable* table) : table_(table) {}
  ~WakeWatchersOnExit() {
    if (changed) table_->WakeChangedServices();
  }
  WakeWatchersOnExit(const WakeWatchersOnExit&) = delete;
  WakeWatchersOnExit& operator=(const WakeWatchersOnExit&) = delete;

  bool changed = false;

 private:
  LeaseTable* table_;
};

Status LeaseTableOptions::Validate() const {
  if (ttl_ms < 1 || ttl_ms > kMaxTtlMs) {
    return InvalidArgument("ttl_ms must be 1-" + std::to_string(kMaxTtlMs) + ", got " +
                           std::to_string(ttl_ms));
  }
  if (max_instances_per_service < 1) {
    return InvalidArgument("max_instances_per_service must be at least 1");
  }
  if (max_instances_total < 1) {
    return InvalidArgument("max_instances_total must be at least 1");
  }
  if (max_watchers < 1) return InvalidArgument("max_watchers must be at least 1");
  if (max_services < 1) return InvalidArgument("max_services must be at least 1");
  if (max_watch_wait_ms < 1) {
    return InvalidArgument("max_watch_wait_ms must be at least 1, got " +
                           std::to_string(max_watch_wait_ms));
  }
  return Status::Ok();
}

bool LeaseTable::ExpiryKey::operator<(const ExpiryKey& o) const {
  return std::tie(expires_at_micros, service, instance_id) <
         std::tie(o.expires_at_micros, o.service, o.instance_id);
}

LeaseTable::LeaseTable(const Clock& clock, LeaseTableOptions options,
                       int64_t initial_version)
    : clock_(clock),
      options_(std::move(options)),
      last_version_(std::max<int64_t>(0, initial_version)) {
  assert(options_.Validate().ok());
}

LeaseTable::~LeaseTable() {
  MutexLock lock(mu_);
  assert(watcher_count_ == 0);
}

bool LeaseTable::TokenMatches(const std::string& token) const {
  return options_.token.empty() || ConstantTimeEquals(options_.token, token);
}

Result<Lease> LeaseTable::Register(const std::string& service,
                                   const InstanceInfo& instance,
                                   const std::string& lease_id,
                                   const std::string& token) {
  if (!TokenMatches(token))
    return PermissionDenied("registration token is missing or wrong");
  if (Status s = ValidateName("service_name", service); !s.ok()) return s;
  if (Status s = ValidateInstance(instance); !s.ok()) return s;
  if (Status s = ValidateLeaseId(lease_id); !s.ok()) return s;
  // Drawn before locking: it is a system call.
  Result<std::string> fresh_lease_id = NewLeaseId();
  if (!fresh_lease_id.ok()) return fresh_lease_id.status();

  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  const int64_t now = clock_.NowMicros();
  const int64_t expires_at = now + options_.ttl_ms * 1000;
  wake.changed = ExpireDueLocked(now);

  auto service_it = services_.find(service);
  if (service_it != services_.end()) {
    auto instance_it = service_it->second.instances.find(instance.id);
    if (instance_it != service_it->second.instances.end()) {
      InstanceEntry& held = instance_it->second;
      const bool same_lease =
          !lease_id.empty() && ConstantTimeEquals(held.lease_id, lease_id);
      const bool same_address =
          held.info.host == instance.host && held.info.port == instance.port;
      if (!same_lease && !same_address) {
        const int64_t left_ms = (held.expires_at_micros - now + 999) / 1000;
        return AlreadyExists(Describe(service, instance.id) +
                             " is held by another lease (" +
                             Endpoint{held.info.host, held.info.port}.ToString() +
                             "); it expires in " + std::to_string(left_ms) + " ms");
      }
      SetExpiryLocked(service, &held, expires_at);
      held.renewed_at_micros = now;
      if (held.info != instance) {
        held.info = instance;
        MarkChangedLocked(service, &service_it->second);
        wake.changed = true;
        NotifyLocked(LeaseEventKind::kUpdated, service, held.info);
      }
      return Lease{held.lease_id, options_.ttl_ms};
    }
  }

  ServiceEntry* entry = service_it == services_.end() ? nullptr : &service_it->second;
  if (Status s = CheckRoomForInstanceLocked(service, entry); !s.ok()) return s;
  if (entry == nullptr) {
    if (services_.size() >= options_.max_services) {
      // CheckRoomForInstanceLocked made sure a tombstone exists. Its
      // watchers see version 0 again.
      changed_services_.insert(tombstones_.begin()->second);
      services_.erase(tombstones_.begin()->second);
      tombstones_.erase(tombstones_.begin());
    }
    entry = &services_[service];
  }
  InstanceEntry& added = entry->instances[instance.id];
  added.info = instance;
  added.lease_id = std::move(fresh_lease_id).value();
  SetExpiryLocked(service, &added, expires_at);
  added.registered_at_micros = now;
  added.renewed_at_micros = now;
  ++total_instances_;
  MarkChangedLocked(service, entry);
  wake.changed = true;
  NotifyLocked(LeaseEventKind::kRegistered, service, added.info);
  return Lease{added.lease_id, options_.ttl_ms};
}

Result<Lease> LeaseTable::Heartbeat(const std::string& service,
                                    const std::string& instance_id,
                                    const std::string& lease_id,
                                    const std::string& token) {
  if (!TokenMatches(token))
    return PermissionDenied("registration token is missing or wrong");
  if (Status s = ValidateInstanceRef(service, instance_id, lease_id); !s.ok()) return s;

  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  const int64_t now = clock_.NowMicros();
  wake.changed = ExpireDueLocked(now);

  InstanceEntry* held = nullptr;
  if (auto service_it = services_.find(service); service_it != services_.end()) {
    auto instance_it = service_it->second.instances.find(instance_id);
    if (instance_it != service_it->second.instances.end()) held = &instance_it->second;
  }
  if (held == nullptr) {
    return UnknownInstance(Describe(service, instance_id) +
                           " is not registered (never, expired or deregistered);"
                           " register again");
  }
  if (!ConstantTimeEquals(held->lease_id, lease_id)) {
    return PermissionDenied(Describe(service, instance_id) + " is held by another lease");
  }
  SetExpiryLocked(service, held, now + options_.ttl_ms * 1000);
  held->renewed_at_micros = now;
  ++held->heartbeats;
  NotifyLocked(LeaseEventKind::kHeartbeat, service, held->info);
  return Lease{held->lease_id, options_.ttl_ms};
}

Status LeaseTable::Deregister(const std::string& service, const std::string& instance_id,
                              const std::string& lease_id, const std::string& token) {
  if (!TokenMatches(token))
    return PermissionDenied("registration token is missing or wrong");
  if (Status s = ValidateInstanceRef(service, instance_id, lease_id); !s.ok()) return s;

  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  wake.changed = ExpireDueLocked(clock_.NowMicros());

  auto service_it = services_.find(service);
  if (service_it == services_.end()) return Status::Ok();
  auto instance_it = service_it->second.instances.find(instance_id);
  if (instance_it == service_it->second.instances.end()) return Status::Ok();
  if (!ConstantTimeEquals(instance_it->second.lease_id, lease_id)) {
    return PermissionDenied(Describe(service, instance_id) + " is held by another lease");
  }
  NotifyLocked(LeaseEventKind::kDeregistered, service, instance_it->second.info,
               "deregistered by its lease holder");
  RemoveInstanceLocked(service_it, instance_it);
  wake.changed = true;
  return Status::Ok();
}

Result<Membership> LeaseTable::Lookup(const std::string& service) {
  if (Status s = ValidateName("service_name", service); !s.ok()) return s;
  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  wake.changed = ExpireDueLocked(clock_.NowMicros());
  return *SnapshotLocked(service);
}

Result<Membership> LeaseTable::Watch(const std::string& service, int64_t known_version,
                                     int max_wait_ms) {
  // This caller's own wait: the completion fills `delivered` and wakes only
  // this thread, which then needs no table lock to build its reply.
  struct Waiting {
    std::mutex mu;
    std::condition_variable cv;
    MembershipSnapshot delivered;
  };
  auto waiting = std::make_shared<Waiting>();
  const int64_t deadline = clock_.NowMicros() + int64_t{max_wait_ms} * 1000;
  Result<WatchStart> start =
      StartWatch(service, known_version, max_wait_ms, [waiting](MembershipSnapshot m) {
        {
          std::lock_guard<std::mutex> lock(waiting->mu);
          waiting->delivered = std::move(m);
        }
        waiting->cv.notify_one();
      });
  if (!start.ok()) return start.status();
  if (start->now) return *start->now;

  std::unique_lock<std::mutex> lock(waiting->mu);
  const auto delivered = [&] { return waiting->delivered != nullptr; };
  if (!clock_.WaitUntil(lock, waiting->cv, deadline, delivered)) {
    lock.unlock();
    MembershipSnapshot unchanged = CancelWatch(service, start->ticket);
    if (unchanged) return *unchanged;
    // The completion is running on the changing thread: it delivers at once.
    lock.lock();
    waiting->cv.wait(lock, delivered);
  }
  return *waiting->delivered;
}

Result<WatchStart> LeaseTable::StartWatch(const std::string& service,
                                          int64_t known_version, int max_wait_ms,
                                          WatchCompletion done) {
  if (Status s = ValidateName("service_name", service); !s.ok()) return s;
  if (max_wait_ms < 1 || max_wait_ms > options_.max_watch_wait_ms) {
    return InvalidArgument("max_wait_ms must be 1-" +
                           std::to_string(options_.max_watch_wait_ms) + ", got " +
                           std::to_string(max_wait_ms));
  }
  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  wake.changed = ExpireDueLocked(clock_.NowMicros());
  if (shut_down_ || VersionLocked(service) != known_version) {
    return WatchStart{SnapshotLocked(service), 0};
  }
  if (watcher_count_ >= options_.max_watchers) {
    return ResourceExhausted("too many watchers (limit " +
                             std::to_string(options_.max_watchers) + "); retry later");
  }
  const uint64_t ticket = next_ticket_++;
  parked_[service].emplace(ticket, std::move(done));
  ++watcher_count_;
  return WatchStart{nullptr, ticket};
}

MembershipSnapshot LeaseTable::CancelWatch(const std::string& service, uint64_t ticket) {
  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  auto service_it = parked_.find(service);
  if (service_it == parked_.end() || service_it->second.erase(ticket) == 0) {
    return nullptr;
  }
  if (service_it->second.empty()) parked_.erase(service_it);
  --watcher_count_;
  // Time has passed: expire again so the reply holds no expired lease.
  wake.changed = ExpireDueLocked(clock_.NowMicros());
  return SnapshotLocked(service);
}

void LeaseTable::WakeChangedServices() {
  // (snapshot, completions) per changed service, taken under the lock and
  // run after it: one snapshot per service, shared by all its watchers.
  std::vector<std::pair<MembershipSnapshot, ParkedWatches>> wakes;
  {
    MutexLock lock(mu_);
    for (const std::string& service : changed_services_) {
      auto it = parked_.find(service);
      if (it == parked_.end()) continue;
      watcher_count_ -= it->second.size();
      watchers_woken_ += it->second.size();
      wakes.emplace_back(SnapshotLocked(service), std::move(it->second));
      parked_.erase(it);
    }
    changed_services_.clear();
  }
  for (auto& [snapshot, parked] : wakes) {
    for (auto& [ticket, done] : parked) done(snapshot);
  }
}

std::vector<ServiceSummary> LeaseTable::ListServices() {
  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  wake.changed = ExpireDueLocked(clock_.NowMicros());
  std::vector<ServiceSummary> out;
  out.reserve(services_.size() - tombstones_.size());
  for (const auto& [name, entry] : services_) {
    if (entry.instances.empty()) continue;
    out.push_back({name, static_cast<int>(entry.instances.size()), entry.version});
  }
  return out;
}

std::vector<ExpiredInstance> LeaseTable::SweepExpired() {
  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  wake.changed = ExpireDueLocked(clock_.NowMicros());
  std::vector<ExpiredInstance> out;
  out.swap(unreported_expiries_);
  return out;
}

void LeaseTable::Shutdown() {
  std::vector<std::pair<MembershipSnapshot, ParkedWatches>> wakes;
  {
    MutexLock lock(mu_);
    shut_down_ = true;
    for (auto& [service, parked] : parked_) {
      wakes.emplace_back(SnapshotLocked(service), std::move(parked));
    }
    parked_.clear();
    watcher_count_ = 0;
  }
  for (auto& [snapshot, parked] : wakes) {
    for (auto& [ticket, done] : parked) done(snapshot);
  }
}

size_t LeaseTable::watcher_count() const {
  MutexLock lock(mu_);
  return watcher_count_;
}

TableDetail LeaseTable::Detail() {
  WakeWatchersOnExit wake(this);
  MutexLock lock(mu_);
  TableDetail out;
  out.now_micros = clock_.NowMicros();
  out.ttl_ms = options_.ttl_ms;
  wake.changed = ExpireDueLocked(out.now_micros);
  out.services.reserve(services_.size());
  for (const auto& [name, entry] : services_) {
    ServiceDetail& service = out.services.emplace_back();
    service.service_name = name;
    service.version = entry.version;
    service.instances.reserve(entry.instances.size());
    for (const auto& [id, held] : entry.instances) {
      service.instances.push_back({held.info, held.registered_at_micros,
                                   held.renewed_at_micros, held.expires_at_micros,
                                   held.heartbeats});
    }
  }
  return out;
}

void LeaseTable::AddObserver(LeaseObserver* observer) {
  MutexLock lock(mu_);
  observers_.push_back(observer);
}

void LeaseTable::NotifyLocked(LeaseEventKind kind, const std::string& service,
                              const InstanceInfo& instance, const std::string& reason) {
  const LeaseEvent event{kind, service, instance, reason};
  for (LeaseObserver* observer : observers_) observer->OnLeaseEvent(event);
}

uint64_t LeaseTable::watchers_woken() const {
  MutexLock lock(mu_);
  return watchers_woken_;
}

bool LeaseTable::ExpireDueLocked(int64_t now_micros) {
  bool changed = false;
  while (!expiry_queue_.empty() &&
         expiry_queue_.begin()->expires_at_micros <= now_micros) {
    const ExpiryKey key = *expiry_queue_.begin();
    auto service_it = services_.find(key.service);
    assert(service_it != services_.end());
    auto instance_it = service_it->second.instances.find(key.instance_id);
    assert(instance_it != service_it->second.instances.end());
    if (unreported_expiries_.size() < options_.max_instances_total) {
      unreported_expiries_.push_back({key.service, key.instance_id});
    }
    if (!observers_.empty()) {
      const InstanceEntry& gone = instance_it->second;
      NotifyLocked(LeaseEventKind::kExpired, key.service, gone.info,
                   "lease expired: no heartbeat for " +
                       std::to_string((now_micros - gone.renewed_at_micros) / 1000) +
                       " ms (lease " + std::to_string(options_.ttl_ms) + " ms), " +
                       std::to_string(gone.heartbeats) +
                       (gone.heartbeats == 1 ? " heartbeat" : " heartbeats") +
                       " since registered " +
                       std::to_string((now_micros - gone.registered_at_micros) / 1000) +
                       " ms before");
    }
    RemoveInstanceLocked(service_it, instance_it);  // erases the key too
    changed = true;
  }
  return changed;
}

void LeaseTable::MarkChangedLocked(const std::string& service, ServiceEntry* entry) {
  tombstones_.erase({entry->version, service});
  entry->version = ++last_version_;
  entry->snapshot = nullptr;
  changed_services_.insert(service);
  if (entry->instances.empty()) tombstones_.insert({entry->version, service});
}

void LeaseTable::RemoveInstanceLocked(
    ServiceMap::iterator service,
    std::map<std::string, InstanceEntry>::iterator instance) {
  expiry_queue_.erase(
      ExpiryKey{instance->second.expires_at_micros, service->first, instance->first});
  service->second.instances.erase(instance);
  --total_instances_;
  MarkChangedLocked(service->first, &service->second);
}

void LeaseTable::SetExpiryLocked(const std::string& service, InstanceEntry* entry,
                                 int64_t expires_at_micros) {
  // A no-op for a new entry: no key of this instance exists yet.
  expiry_queue_.erase(ExpiryKey{entry->expires_at_micros, service, entry->info.id});
  entry->expires_at_micros = expires_at_micros;
  expiry_queue_.insert(ExpiryKey{expires_at_micros, service, entry->info.id});
}

Status LeaseTable::CheckRoomForInstanceLocked(const std::string& service,
                                              const ServiceEntry* entry) const {
  if (total_instances_ >= options_.max_instances_total) {
    return ResourceExhausted("the registry holds its limit of " +
                             std::to_string(options_.max_instances_total) + " instances");
  }
  if (entry != nullptr && entry->instances.size() >= options_.max_instances_per_service) {
    return ResourceExhausted(
        "service " + QuoteForMessage(service) + " holds its limit of " +
        std::to_string(options_.max_instances_per_service) + " instances");
  }
  if (entry == nullptr && services_.size() >= options_.max_services &&
      tombstones_.empty()) {
    return ResourceExhausted("the registry holds its limit of " +
                             std::to_string(options_.max_services) + " services");
  }
  return Status::Ok();
}

int64_t LeaseTable::VersionLocked(const std::string& service) const {
  auto it = services_.find(service);
  return it == services_.end() ? 0 : it->second.version;
}

MembershipSnapshot LeaseTable::SnapshotLocked(const std::string& service) {
  auto it = services_.find(service);
  if (it == services_.end()) {
    auto never_seen = std::make_shared<Membership>();
    never_seen->service_name = service;
    return never_seen;
  }
  ServiceEntry& entry = it->second;
  if (entry.snapshot) return entry.snapshot;
  auto m = std::make_shared<Membership>();
  m->service_name = service;
  m->version = entry.version;
  m->instances.reserve(entry.instances.size());
  for (const auto& [id, instance] : entry.instances)
    m->instances.push_back(instance.info);
  entry.snapshot = std::move(m);
  return entry.snapshot;
}

}  // namespace beacon::registry
