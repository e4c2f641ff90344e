// RoundRobinBalancer: hands out the candidates in list order, one after the
// other, so every server gets the same share of calls.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "balance/balancer.h"

namespace beacon::balance {

// Pick i returns index (i mod candidates.size()) of that call's list: with a
// stable list of n servers, any n consecutive picks hit each server once.
// When the list changes size the rotation continues from the shared counter,
// so it never returns an out-of-range index and fairness is restored within
// one cycle of the new list. Outcomes are ignored.
// Safe for concurrent use (lock-free).
class RoundRobinBalancer final : public Balancer {
 public:
  static constexpr std::string_view kName = "round-robin";

  size_t Pick(const std::vector<InstanceInfo>& candidates) override;
  std::string_view Name() const override { return kName; }

 private:
  // Picks handed out so far. 64 bits cannot wrap in practice.
  std::atomic<uint64_t> next_{0};
};

}  // namespace beacon::balance
