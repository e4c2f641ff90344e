#include "balance/least_recently_used_balancer.h"

#include <cassert>
#include <unordered_set>

namespace beacon::balance {

size_t LeastRecentlyUsedBalancer::Pick(const std::vector<InstanceInfo>& candidates) {
  assert(!candidates.empty());
  MutexLock lock(mu_);
  size_t best = 0;
  uint64_t best_stamp = UINT64_MAX;
  size_t never_picked = 0;  // candidates seen so far with stamp 0
  for (size_t i = 0; i < candidates.size(); ++i) {
    auto it = last_pick_.find(candidates[i].id);
    // Stamps start at 1, so 0 means "never picked" and beats every stamp.
    const uint64_t stamp = it == last_pick_.end() ? 0 : it->second;
    if (stamp == 0) {
      // Reservoir sampling: each never-picked candidate ends up chosen with
      // probability 1/(number of them).
      ++never_picked;
      if (random_.Below(never_picked) == 0) best = i;
      best_stamp = 0;
    } else if (stamp < best_stamp) {  // stamps are unique: no other ties
      best = i;
      best_stamp = stamp;
    }
  }
  last_pick_[candidates[best].id] = ++sequence_;
  if (last_pick_.size() > kPruneFactor * candidates.size()) PruneLocked(candidates);
  return best;
}

void LeastRecentlyUsedBalancer::PruneLocked(const std::vector<InstanceInfo>& candidates) {
  std::unordered_set<std::string> present;
  present.reserve(candidates.size());
  for (const InstanceInfo& c : candidates) present.insert(c.id);
  for (auto it = last_pick_.begin(); it != last_pick_.end();) {
    it = present.count(it->first) ? std::next(it) : last_pick_.erase(it);
  }
}

size_t LeastRecentlyUsedBalancer::TrackedIds() const {
  MutexLock lock(mu_);
  return last_pick_.size();
}

}  // namespace beacon::balance
