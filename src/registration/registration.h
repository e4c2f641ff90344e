// Registration: keeps one replica registered under its services with one
// registry for as long as it runs (a replica given several registries runs
// one Registration per registry; see RegistrationSet). Registers at Start, heartbeats
// every TTL/3 (jittered, so replicas restarted together do not beat in lockstep),
// registers again when the registry answers UNKNOWN_INSTANCE (it restarted or the lease
// expired), retries with capped jittered backoff while the registry is unreachable, and
// deregisters first thing at Stop.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/membership.h"
#include "core/mutex.h"
#include "core/status.h"
#include "registration/lease_client.h"

namespace beacon::registration {

// Start/Stop from one thread; registered_count() from any.
class Registration {
 public:
  // `registry` and `clock` must outlive this object; every delay between
  // passes (heartbeat interval, backoff) is waited on `clock`.
  Registration(LeaseClient& registry, InstanceInfo self,
               std::vector<std::string> services, const Clock& clock);
  ~Registration();  // Stop()

  // Starts the background loop; the first registration attempt happens at once.
  void Start();

  // Stops the loop and deregisters every service still registered (one
  // attempt each, bounded by the client's call timeout). Idempotent; a
  // second call while the first is still deregistering returns at once.
  void Stop();

  // Services currently holding a lease.
  int registered_count() const;

 private:
  struct ServiceLease {
    std::string lease_id;  // empty: not registered
    int64_t ttl_ms = 0;
  };
  void Loop();
  // One pass over every service; returns the delay before the next pass.
  int64_t Tick();

  LeaseClient& registry_;
  const Clock& clock_;
  const InstanceInfo self_;
  const std::vector<std::string> services_;

  mutable Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::map<std::string, ServiceLease> leases_ GUARDED_BY(mu_);  // (written by the loop)
  int64_t backoff_ms_ = 0;                                      // loop thread only
  std::thread thread_;
};

}  // namespace beacon::registration
