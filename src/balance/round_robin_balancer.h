// RoundRobinBalancer: hands out the candidates in list order, one after the
// other, so every server gets the same share of calls.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "balance/balancer.h"
#include "core/hot.h"

namespace beacon::balance {

// Pick i returns index ((start + i) mod candidates.size()) of that call's
// list: with a stable list of n servers, any n consecutive picks hit each
// server once. `start` is random when made by MakeBalancer (from the
// context's seed), so many short sessions do not all begin on the first
// server.
// When the list changes size the rotation continues from the shared counter,
// so it never returns an out-of-range index and fairness is restored within
// one cycle of the new list. Outcomes are ignored.
// Safe for concurrent use (lock-free).
class RoundRobinBalancer final : public Balancer {
 public:
  static constexpr std::string_view kName = "round-robin";

  explicit RoundRobinBalancer(uint64_t start = 0) : next_(start) {}

  BEACON_HOT size_t Pick(const std::vector<InstanceInfo>& candidates) override;
  std::string_view Name() const override { return kName; }

 private:
  // start + picks handed out so far. Starts below 2^63 (see the factory), so
  // 64 bits cannot wrap in practice.
  std::atomic<uint64_t> next_;
};

}  // namespace beacon::balance
