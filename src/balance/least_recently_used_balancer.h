// LeastRecentlyUsedBalancer: sends the next call to the server that has waited
// longest since its last call, so a server that joins (or comes back) is used
// at once and load stays even when the list changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "balance/balancer.h"
#include "core/mutex.h"

namespace beacon::balance {

// Picks the candidate whose last pick is oldest; a never-picked id counts as
// oldest of all; ties (only never-picked ids can tie) are broken at random
// from `seed`, so many short sessions do not all begin on the first server. "Last pick"
// is a logical sequence number stamped when the pick is made (not when the call ends), so
// concurrent picks spread over different servers. Memory: it remembers ids it has picked;
// when that map grows past kPruneFactor times the current list size, ids absent from the
// list are forgotten (a forgotten id that comes back counts as never picked), so churn
// cannot grow it without bound. Outcomes are ignored.
// Safe for concurrent use (one mutex held for the pick itself).
class LeastRecentlyUsedBalancer final : public Balancer {
 public:
  static constexpr std::string_view kName = "lru";
  static constexpr size_t kPruneFactor = 4;

  explicit LeastRecentlyUsedBalancer(uint64_t seed = 0) : random_(seed) {}

  size_t Pick(const std::vector<InstanceInfo>& candidates) override;
  std::string_view Name() const override { return kName; }

  // How many ids are remembered now (for tests and diagnostics).
  size_t TrackedIds() const;

 private:
  // Forgets ids absent from `candidates`. Requires mu_.
  void PruneLocked(const std::vector<InstanceInfo>& candidates) REQUIRES(mu_);

  mutable Mutex mu_;
  uint64_t sequence_ GUARDED_BY(mu_) = 0;
  SplitMix64 random_ GUARDED_BY(mu_);
  std::unordered_map<std::string, uint64_t> last_pick_ GUARDED_BY(mu_);
};

}  // namespace beacon::balance
