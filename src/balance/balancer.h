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

#include "core/clock.h"
#include "core/membership.h"
#include "core/status.h"

namespace beacon::balance {

// Implementations are safe for concurrent use: many threads of one session may
// pick at once. The candidate list may differ from call to call (servers
// added, removed, marked down); a policy must stay correct when it does.
//
// The outcome contract (policies that count calls in flight rely on it):
// every Pick is followed by exactly one OnOutcome for the server it picked,
// when the call to that server has ended, whatever happened: answered,
// failed in the transport, or abandoned (a hedged copy that lost the race
// still reports when its attempt ends; a copy never sent reports ok=false,
// latency 0). A caller may also report an outcome for a server it did not
// get from Pick (the cache's last-resort fallback, reports by id); policies
// must tolerate that (never count below zero) and ignore unknown ids.
class Balancer {
 public:
  virtual ~Balancer() = default;

  // Returns the index in `candidates` of the server to call next.
  // Precondition: candidates is not empty (the caller handles "no server").
  virtual size_t Pick(const std::vector<InstanceInfo>& candidates) = 0;

  // Told after each call to `instance_id` (see the outcome contract above):
  // ok = the call reached the server and got an answer (an application error
  // counts as ok); latency_us is how long it took. Default: ignore.
  virtual void OnOutcome(const std::string& instance_id, bool ok, int64_t latency_us) {
    (void)instance_id;
    (void)ok;
    (void)latency_us;
  }

  // The policy's name as given on the command line ("round-robin", "lru", "p2c").
  virtual std::string_view Name() const = 0;
};

// What a policy may use besides the candidates. Every policy draws its
// randomness from `seed` alone, so a test that fixes the seed (and the
// clock) gets the same picks every run.
struct BalancerContext {
  // Time for latency-aware policies; must outlive the balancer. Null: the
  // system's monotonic clock.
  const Clock* clock = nullptr;
  // Seeds the policy's random choices (round-robin's starting position,
  // lru's ties, p2c's pairs). 0: a fresh seed from std::random_device, so
  // short sessions of many processes spread over the servers.
  uint64_t seed = 0;
  // p2c: how long a latency peak takes to fade (see PeakEwmaBalancer).
  int64_t decay_window_ms = 10000;
};

// Creates the policy called `name`; kInvalidArgument naming the known
// policies, or naming the field of `context` that is out of range.
Result<std::unique_ptr<Balancer>> MakeBalancer(std::string_view name,
                                               const BalancerContext& context = {});

// Every name MakeBalancer accepts, in a stable order.
std::vector<std::string> BalancerNames();

// A small, fast, seedable random source (SplitMix64) for the policies' choices.
// Not thread-safe; each policy guards its own.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0. The bias of a plain modulo is below 2^-50 for
  // the list sizes a session sees.
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

}  // namespace beacon::balance
