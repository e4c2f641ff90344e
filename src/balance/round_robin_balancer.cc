#include "balance/round_robin_balancer.h"

#include <cassert>

namespace beacon::balance {

size_t RoundRobinBalancer::Pick(const std::vector<InstanceInfo>& candidates) {
  assert(!candidates.empty());
  // Relaxed is enough: the counter orders nothing but itself.
  const uint64_t ticket = next_.fetch_add(1, std::memory_order_relaxed);
  return static_cast<size_t>(ticket % candidates.size());
}

}  // namespace beacon::balance
