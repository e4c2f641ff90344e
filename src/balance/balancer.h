// Balancer: client-side load-balancing policy. Given the servers that are
// currently usable, pick one; be told how calls went. Adding a policy means
// adding one class and one name in balancer_factory.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/membership.h"
#include "core/status.h"

namespace beacon::balance {

// Implementations are safe for concurrent use: many threads of one session may
// pick at once. The candidate list may differ from call to call (servers
// added, removed, marked down); a policy must stay correct when it does.
class Balancer {
 public:
  virtual ~Balancer() = default;

  // Returns the index in `candidates` of the server to call next.
  // Precondition: candidates is not empty (the caller handles "no server").
  virtual size_t Pick(const std::vector<InstanceInfo>& candidates) = 0;

  // Told after each call to `instance_id`: ok = the call reached the server
  // and got an answer (an application error counts as ok). Default: ignore.
  virtual void OnOutcome(const std::string& instance_id, bool ok, int64_t latency_us) {
    (void)instance_id;
    (void)ok;
    (void)latency_us;
  }

  // The policy's name as given on the command line ("round-robin", "lru").
  virtual std::string_view Name() const = 0;
};

// Creates the policy called `name`; kInvalidArgument naming the known
// policies otherwise.
Result<std::unique_ptr<Balancer>> MakeBalancer(std::string_view name);

// Every name MakeBalancer accepts, in a stable order.
std::vector<std::string> BalancerNames();

}  // namespace beacon::balance
