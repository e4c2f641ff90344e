// FakeLeaseClient: an in-memory registry for Registration tests. Counts
// calls per service, can be made unreachable, can forget every lease (a
// restarted registry) and can hang (every call blocks until released). Safe for
// concurrent use.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "core/mutex.h"
#include "registration/lease_client.h"

namespace beacon::registration::testing {

class FakeLeaseClient : public LeaseClient {
 public:
  explicit FakeLeaseClient(int64_t ttl_ms, std::string address = "127.0.0.1:9090")
      : ttl_ms_(ttl_ms), address_(std::move(address)) {}

  Result<Grant> Register(const std::string& service, const InstanceInfo& self,
                         const std::string&) override {
    MutexLock lock(mu_);
    ++registers_[service];
    WaitWhileHeld();
    if (down_) return Unavailable("registry down");
    leases_[service] = "lease-" + service + "-" + std::to_string(++next_);
    registered_self_ = self;
    return Grant{leases_[service], ttl_ms_};
  }
  Result<Grant> Heartbeat(const std::string& service, const std::string&,
                          const std::string& lease_id) override {
    MutexLock lock(mu_);
    ++heartbeats_[service];
    WaitWhileHeld();
    if (down_) return Unavailable("registry down");
    auto it = leases_.find(service);
    if (it == leases_.end()) return UnknownInstance("unknown");
    if (it->second != lease_id) return PermissionDenied("not yours");
    return Grant{lease_id, ttl_ms_};
  }
  Status Deregister(const std::string& service, const std::string&,
                    const std::string& lease_id) override {
    MutexLock lock(mu_);
    ++deregisters_[service];
    ++deregisters_in_progress_;
    WaitWhileHeld();
    --deregisters_in_progress_;
    if (down_) return Unavailable("registry down");
    if (leases_[service] == lease_id) leases_.erase(service);
    return Status::Ok();
  }

  std::string Address() const override { return address_; }

  // A hung registry: while held, every call blocks (up to 10 s, so a broken
  // test fails instead of hanging) until Release.
  void Hold() {
    MutexLock lock(mu_);
    hold_ = true;
  }
  void Release() {
    MutexLock lock(mu_);
    hold_ = false;
    released_.NotifyAll();
  }
  int deregisters_in_progress() {
    MutexLock l(mu_);
    return deregisters_in_progress_;
  }

  void SetDown(bool down) {
    MutexLock lock(mu_);
    down_ = down;
  }
  // The registry restarted: it knows no lease.
  void ForgetAll() {
    MutexLock lock(mu_);
    leases_.clear();
  }
  int registers(const std::string& s) {
    MutexLock l(mu_);
    return registers_[s];
  }
  int heartbeats(const std::string& s) {
    MutexLock l(mu_);
    return heartbeats_[s];
  }
  int deregisters(const std::string& s) {
    MutexLock l(mu_);
    return deregisters_[s];
  }
  bool holds(const std::string& s) {
    MutexLock l(mu_);
    return leases_.count(s) > 0;
  }

 private:
  void WaitWhileHeld() REQUIRES(mu_) {
    released_.WaitFor(mu_, std::chrono::seconds(10), [&] {
      mu_.AssertHeld();
      return !hold_;
    });
  }

  const int64_t ttl_ms_;
  const std::string address_;
  Mutex mu_;
  CondVar released_;
  bool hold_ GUARDED_BY(mu_) = false;
  int deregisters_in_progress_ GUARDED_BY(mu_) = 0;
  bool down_ GUARDED_BY(mu_) = false;
  int next_ GUARDED_BY(mu_) = 0;
  InstanceInfo registered_self_ GUARDED_BY(mu_);
  std::map<std::string, std::string> leases_ GUARDED_BY(mu_);
  std::map<std::string, int> registers_ GUARDED_BY(mu_), heartbeats_ GUARDED_BY(mu_),
      deregisters_ GUARDED_BY(mu_);
};

}  // namespace beacon::registration::testing
