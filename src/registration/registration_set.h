// RegistrationSet: one replica registered with several independent
// registries. Each registry gets its own Registration (own thread, lease,
// heartbeat and backoff), so a registry that is down or slow never delays
// registration or heartbeats to the others; at shutdown every registry is
// told in parallel, and the caller waits no longer than its budget.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/membership.h"
#include "core/mutex.h"
#include "registration/lease_client.h"
#include "registration/registration.h"

namespace beacon::registration {

// Start/Stop/destruction from one thread; registered_counts() from any.
class RegistrationSet {
 public:
  // One Registration per element of `registries` (none may be null; each
  // must outlive this object, as must `clock`, on which Stop's budget is
  // measured).
  RegistrationSet(const std::vector<LeaseClient*>& registries, const InstanceInfo& self,
                  const std::vector<std::string>& services, const Clock& clock);
  // Stop(0), then waits for deregistrations still in flight (each bounded by
  // its client's call timeout).
  ~RegistrationSet();

  RegistrationSet(const RegistrationSet&) = delete;
  RegistrationSet& operator=(const RegistrationSet&) = delete;

  // Starts every registration loop.
  void Start();

  // Stops every loop and deregisters from every registry, all in parallel,
  // and returns once all have finished or budget_ms has passed on the clock,
  // whichever comes first. Returns how many registries finished in time;
  // the others go on in the background (their leases expire anyway).
  // Later calls return at once with the same count as the first.
  size_t Stop(int64_t budget_ms);

  // Per registry, in constructor order: services currently holding a lease.
  std::vector<int> registered_counts() const;

 private:
  const Clock& clock_;
  std::vector<std::unique_ptr<Registration>> registrations_;
  std::vector<std::thread> stoppers_;  // one per registration once stopping

  bool stop_called_ = false;    // owner thread only
  size_t stopped_in_time_ = 0;  // owner thread only

  Mutex mu_;
  CondVar stopped_cv_;
  size_t stopped_ GUARDED_BY(mu_) = 0;
};

}  // namespace beacon::registration
