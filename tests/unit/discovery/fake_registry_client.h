// FakeRegistryClient: an in-memory registry for ServerCache tests. Counts and
// logs calls, can be made unreachable, and lets a test hold Lookups or fail
// Watches. Watch blocks like the real one (real time, bounded by max_wait_ms).
// Safe for concurrent use.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "discovery/registry_client.h"

namespace beacon::discovery::testing {

inline InstanceInfo Server(const std::string& id, int port,
                           const std::string& host = "127.0.0.1") {
  return InstanceInfo{id, host, port, {}};
}

class FakeRegistryClient final : public RegistryClient {
 public:
  static constexpr const char* kAddress = "127.0.0.1:9090";
  static constexpr const char* kDownMessage = "connect to 127.0.0.1:9090 refused";

  explicit FakeRegistryClient(std::string address = kAddress)
      : address_(std::move(address)) {}

  // Replaces the membership exactly (version included) and wakes watchers.
  void SetMembership(const std::string& service, int64_t version,
                     std::vector<InstanceInfo> instances) {
    MutexLock lock(mu_);
    Membership& m = services_[service];
    m.service_name = service;
    m.version = version;
    m.instances = std::move(instances);
    changed_.NotifyAll();
  }

  // Replaces the instances and bumps the version by one.
  void SetInstances(const std::string& service, std::vector<InstanceInfo> instances) {
    int64_t version = 0;
    {
      MutexLock lock(mu_);
      version = services_[service].version + 1;
    }
    SetMembership(service, version, std::move(instances));
  }

  // Unreachable: every call fails with kUnavailable, watches in progress too.
  void SetReachable(bool reachable) {
    MutexLock lock(mu_);
    reachable_ = reachable;
    changed_.NotifyAll();
  }

  // The next n Watch calls fail at once with kUnavailable.
  void FailNextWatches(int n) {
    MutexLock lock(mu_);
    failing_watches_ = n;
  }

  // While held, Lookup blocks (up to 10 s, so a broken test fails instead of
  // hanging) until ReleaseLookups.
  void HoldLookups() {
    MutexLock lock(mu_);
    hold_lookups_ = true;
  }
  void ReleaseLookups() {
    MutexLock lock(mu_);
    hold_lookups_ = false;
    changed_.NotifyAll();
  }

  // Watches in progress return the unchanged membership, as if max_wait passed.
  void ExpireWatches() {
    MutexLock lock(mu_);
    ++expire_generation_;
    changed_.NotifyAll();
  }

  // Error returned by Lookup instead of kUnavailable when set.
  void SetLookupError(Status error) {
    MutexLock lock(mu_);
    lookup_error_ = std::move(error);
  }

  int Lookups(const std::string& service) const { return Count("lookup " + service); }
  int Watches(const std::string& service) const { return Count("watch " + service); }
  int LookupsInProgress() const {
    MutexLock lock(mu_);
    return lookups_in_progress_;
  }
  int WatchesInProgress() const {
    MutexLock lock(mu_);
    return watches_in_progress_;
  }
  int Cancels() const {
    MutexLock lock(mu_);
    return cancels_;
  }
  // "lookup S" / "watch S" in call order.
  std::vector<std::string> CallLog() const {
    MutexLock lock(mu_);
    return log_;
  }

  Result<Membership> Lookup(const std::string& service) override {
    MutexLock lock(mu_);
    log_.push_back("lookup " + service);
    ++lookups_in_progress_;
    changed_.WaitFor(mu_, std::chrono::seconds(10), [&] {
      mu_.AssertHeld();
      return !hold_lookups_;
    });
    --lookups_in_progress_;
    if (!reachable_) return Unavailable(kDownMessage);
    if (!lookup_error_.ok()) return lookup_error_;
    return MembershipLocked(service);
  }

  Result<Membership> Watch(const std::string& service, int64_t known_version,
                           int max_wait_ms) override {
    MutexLock lock(mu_);
    log_.push_back("watch " + service);
    if (!reachable_) return Unavailable(kDownMessage);
    if (failing_watches_ > 0) {
      --failing_watches_;
      return Unavailable("watch failed (injected)");
    }
    const uint64_t cancel_seen = cancel_generation_;
    const uint64_t expire_seen = expire_generation_;
    ++watches_in_progress_;
    changed_.WaitFor(mu_, std::chrono::milliseconds(max_wait_ms), [&] {
      mu_.AssertHeld();
      return MembershipLocked(service).version != known_version || !reachable_ ||
             cancel_generation_ != cancel_seen || expire_generation_ != expire_seen;
    });
    --watches_in_progress_;
    if (cancel_generation_ != cancel_seen) return Unavailable("watch cancelled");
    if (!reachable_) return Unavailable(kDownMessage);
    return MembershipLocked(service);
  }

  void CancelWatches() override {
    MutexLock lock(mu_);
    ++cancels_;
    ++cancel_generation_;
    changed_.NotifyAll();
  }

  std::string Address() const override { return address_; }

 private:
  Membership MembershipLocked(const std::string& service) const REQUIRES(mu_) {
    auto it = services_.find(service);
    if (it != services_.end()) return it->second;
    Membership empty;
    empty.service_name = service;
    return empty;
  }

  int Count(const std::string& entry) const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    int n = 0;
    for (const std::string& e : log_) n += e == entry;
    return n;
  }

  const std::string address_;
  mutable Mutex mu_;
  CondVar changed_;
  std::map<std::string, Membership> services_ GUARDED_BY(mu_);
  bool reachable_ GUARDED_BY(mu_) = true;
  int failing_watches_ GUARDED_BY(mu_) = 0;
  bool hold_lookups_ GUARDED_BY(mu_) = false;
  Status lookup_error_ GUARDED_BY(mu_);
  uint64_t cancel_generation_ GUARDED_BY(mu_) = 0;
  uint64_t expire_generation_ GUARDED_BY(mu_) = 0;
  int cancels_ GUARDED_BY(mu_) = 0;
  int lookups_in_progress_ GUARDED_BY(mu_) = 0;
  int watches_in_progress_ GUARDED_BY(mu_) = 0;
  std::vector<std::string> log_ GUARDED_BY(mu_);
};

}  // namespace beacon::discovery::testing
