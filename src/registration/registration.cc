#include "registration/registration.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace beacon::registration {
namespace {

constexpr int64_t kMinBackoffMs = 100;
constexpr int64_t kDefaultIntervalMs = 1000;

// delay * [0.8, 1.2): spreads replicas that started (or lost the registry)
// together.
int64_t Jitter(int64_t delay_ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return std::max<int64_t>(1, static_cast<int64_t>(delay_ms * factor(rng)));
}

}  // namespace

Registration::Registration(LeaseClient& registry, InstanceInfo self,
                           std::vector<std::string> services, const Clock& clock)
    : registry_(registry),
      clock_(clock),
      self_(std::move(self)),
      services_(std::move(services)) {}

Registration::~Registration() { Stop(); }

void Registration::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Registration::Loop() {
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    const int64_t delay = Tick();
    MutexLock lock(mu_);
    mu_.WithUniqueLock([&](std::unique_lock<std::mutex>& held) {
      return clock_.WaitUntil(held, cv_.native(), clock_.NowMicros() + delay * 1000,
                              [this] {
                                mu_.AssertHeld();
                                return stopping_;
                              });
    });
  }
}

int64_t Registration::Tick() {
  // TTL/3 of the shortest lease held; 1 s until a lease tells the TTL.
  int64_t interval = 0;
  bool trouble = false;
  for (const auto& service : services_) {
    ServiceLease lease;
    {
      MutexLock lock(mu_);
      if (stopping_) return 0;
      lease = leases_[service];
    }
    if (!lease.lease_id.empty()) {
      auto hb = registry_.Heartbeat(service, self_.id, lease.lease_id);
      if (hb.ok()) {
        lease.ttl_ms = hb->ttl_ms;
      } else if (hb.status().code() == StatusCode::kUnknownInstance ||
                 hb.status().code() == StatusCode::kPermissionDenied) {
        spdlog::warn("registry {} lost our lease for {} ({}): registering again",
                     registry_.Address(), service, hb.status().ToString());
        lease = ServiceLease{};
      } else {
        spdlog::warn("heartbeat for {} to registry {} failed: {}", service,
                     registry_.Address(), hb.status().ToString());
        trouble = true;
      }
    }
    if (lease.lease_id.empty()) {
      auto grant = registry_.Register(service, self_, "");
      if (grant.ok()) {
        lease = ServiceLease{grant->lease_id, grant->ttl_ms};
        spdlog::info("registered {} as {} at {}:{} with registry {} (lease ttl {} ms)",
                     service, self_.id, self_.host, self_.port, registry_.Address(),
                     grant->ttl_ms);
      } else {
        spdlog::warn("cannot register {} with registry {}: {}", service,
                     registry_.Address(), grant.status().ToString());
        trouble = true;
      }
    }
    if (lease.ttl_ms > 0) {
      const int64_t third = std::max<int64_t>(1, lease.ttl_ms / 3);
      interval = interval == 0 ? third : std::min(interval, third);
    }
    MutexLock lock(mu_);
    leases_[service] = lease;
  }
  if (interval == 0) interval = kDefaultIntervalMs;
  if (!trouble) {
    backoff_ms_ = 0;
    return Jitter(interval);
  }
  // Capped at the heartbeat interval, so a registry that comes back sees
  // every replica again within one interval.
  backoff_ms_ = backoff_ms_ == 0 ? kMinBackoffMs : std::min(backoff_ms_ * 2, interval);
  return Jitter(std::min(backoff_ms_, interval));
}

void Registration::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  std::map<std::string, ServiceLease> leases;
  {
    MutexLock lock(mu_);
    leases.swap(leases_);
  }
  for (const auto& [service, lease] : leases) {
    if (lease.lease_id.empty()) continue;
    Status s = registry_.Deregister(service, self_.id, lease.lease_id);
    if (s.ok()) {
      spdlog::info("deregistered {} as {} from registry {}", service, self_.id,
                   registry_.Address());
    } else {
      spdlog::warn("cannot deregister {} from registry {}: {} (the lease will expire)",
                   service, registry_.Address(), s.ToString());
    }
  }
}

int Registration::registered_count() const {
  MutexLock lock(mu_);
  int n = 0;
  for (const auto& [service, lease] : leases_) n += lease.lease_id.empty() ? 0 : 1;
  return n;
}

}  // namespace beacon::registration
