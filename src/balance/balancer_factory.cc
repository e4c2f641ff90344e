// The table of balancing policies. Adding a policy: one class, one line here.
#include <functional>

#include "balance/balancer.h"
#include "balance/least_recently_used_balancer.h"
#include "balance/round_robin_balancer.h"
#include "core/validation.h"

namespace beacon::balance {
namespace {

struct Policy {
  std::string_view name;
  std::function<std::unique_ptr<Balancer>()> make;
};

const std::vector<Policy>& Policies() {
  static const std::vector<Policy> policies = {
      {RoundRobinBalancer::kName, [] { return std::make_unique<RoundRobinBalancer>(); }},
      {LeastRecentlyUsedBalancer::kName,
       [] { return std::make_unique<LeastRecentlyUsedBalancer>(); }},
  };
  return policies;
}

}  // namespace

Result<std::unique_ptr<Balancer>> MakeBalancer(std::string_view name) {
  for (const Policy& policy : Policies()) {
    if (policy.name == name) return policy.make();
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
