// The table of balancing policies. Adding a policy: one class, one line here.
#include <functional>
#include <random>

#include "balance/balancer.h"
#include "balance/least_recently_used_balancer.h"
#include "balance/power_of_two_choices_balancer.h"
#include "balance/round_robin_balancer.h"
#include "core/validation.h"

namespace beacon::balance {
namespace {

struct Policy {
  std::string_view name;
  // `clock` is never null here; `random` is seeded from the context.
  std::function<std::unique_ptr<Balancer>(const BalancerContext&, SplitMix64& random)>
      make;
};

const std::vector<Policy>& Policies() {
  static const std::vector<Policy> policies = {
      // Below 2^63, so the rotation counter cannot wrap.
      {RoundRobinBalancer::kName,
       [](const BalancerContext&, SplitMix64& random) {
         return std::make_unique<RoundRobinBalancer>(random.Next() >> 1);
       }},
      {LeastRecentlyUsedBalancer::kName,
       [](const BalancerContext&, SplitMix64& random) {
         return std::make_unique<LeastRecentlyUsedBalancer>(random.Next());
       }},
      {PowerOfTwoChoicesBalancer::kName,
       [](const BalancerContext& context, SplitMix64& random) {
         return std::make_unique<PowerOfTwoChoicesBalancer>(*context.clock, random.Next(),
                                                            context.decay_window_ms);
       }},
  };
  return policies;
}

}  // namespace

Result<std::unique_ptr<Balancer>> MakeBalancer(std::string_view name,
                                               const BalancerContext& context) {
  if (context.decay_window_ms <= 0 || context.decay_window_ms > 3'600'000) {
    return InvalidArgument("balancer decay_window_ms must be 1..3600000, got " +
                           std::to_string(context.decay_window_ms));
  }
  BalancerContext filled = context;
  if (filled.clock == nullptr) filled.clock = &SystemClock::Instance();
  if (filled.seed == 0) {
    std::random_device device;
    filled.seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  for (const Policy& policy : Policies()) {
    if (policy.name != name) continue;
    SplitMix64 random(filled.seed);
    return policy.make(filled, random);
  }
  std::string known;
  for (const std::string& n : BalancerNames()) known += (known.empty() ? "" : ", ") + n;
  return InvalidArgument("balancer " + QuoteForMessage(name) +
                         " is unknown (known: " + known + ")");
}

std::vector<std::string> BalancerNames() {
  std::vector<std::string> names;
  for (const Policy& policy : Policies()) names.emplace_back(policy.name);
  return names;
}

}  // namespace beacon::balance
