// PowerOfTwoChoicesBalancer ("p2c"): picks two different usable servers at
// random and sends the call to the cheaper one, where a server's cost is a
// peak-sensitive moving average of its observed latency times (its calls in
// flight + 1), as in Finagle's P2C least-loaded balancer with peak EWMA.
// A slow server loses almost every comparison at once; an idle one drifts
// back to a neutral cost and is tried again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "balance/balancer.h"
#include "core/clock.h"
#include "core/mutex.h"

namespace beacon::balance {

// Latency estimate per server (microseconds), "peak EWMA":
//   - a sample above the current estimate replaces it at once (peak);
//   - a lower sample is blended in with weight 1 - exp(-dt/tau), dt being the
//     time since the server's previous sample and tau = decay_window / 5, so
//     the estimate is a time-weighted average over about tau;
//   - between samples the estimate fades toward the neutral cost with the
//     same time constant (below 1 % of its distance after one window), and a
//     server with no sample for a whole window is back at the neutral cost.
// The neutral cost is a plain (non-peak) time-weighted average of every
// sample this balancer has seen, over all servers. A server never seen (new
// in the list, or forgotten) starts at the neutral cost, so it competes as
// an average server and gets probed, and no server is left out forever.
// Costs within kTieTolerance of each other are a tie, won by either of the
// pair at random: latency samples are far noisier than 5 %, and a strict
// comparison would herd a single-threaded session onto whichever of several
// equal servers happens to have the lowest estimate.
// Failed calls (ok=false) end a call in flight but give no latency sample
// (the cache marks such a server down; a fast refusal must not look cheap).
// Calls in flight count from Pick to the matching OnOutcome (see the outcome
// contract in balancer.h; never below zero).
// Memory: like LeastRecentlyUsedBalancer, ids absent from the list are
// forgotten once more than kPruneFactor times the list size are known (those
// with calls in flight are kept).
// Safe for concurrent use (one mutex held for each pick and outcome).
class PowerOfTwoChoicesBalancer final : public Balancer {
 public:
  static constexpr std::string_view kName = "p2c";
  static constexpr size_t kPruneFactor = 4;
  static constexpr double kTieTolerance = 0.05;

  // `clock` must outlive the balancer. Precondition: decay_window_ms > 0
  // (the factory checks it).
  PowerOfTwoChoicesBalancer(const Clock& clock, uint64_t seed, int64_t decay_window_ms);

  size_t Pick(const std::vector<InstanceInfo>& candidates) override;
  void OnOutcome(const std::string& instance_id, bool ok, int64_t latency_us) override;
  std::string_view Name() const override { return kName; }

  // For tests and diagnostics: the latency estimate Pick would use for `id`
  // now (the neutral cost for an unknown id), and its calls in flight.
  double LatencyEstimateUs(const std::string& id) const;
  int64_t Outstanding(const std::string& id) const;
  size_t TrackedIds() const;

 private:
  struct ServerStats {
    double estimate_us = 0;  // valid once sampled
    int64_t sampled_at_us = 0;
    bool sampled = false;
    int64_t outstanding = 0;
  };

  double NeutralLocked() const REQUIRES(mu_);
  double EstimateLocked(const ServerStats* stats, int64_t now_us) const REQUIRES(mu_);
  double CostLocked(const std::string& id, int64_t now_us) REQUIRES(mu_);
  void PruneLocked(const std::vector<InstanceInfo>& candidates) REQUIRES(mu_);

  const Clock& clock_;
  const int64_t window_us_;
  const double tau_us_;

  mutable Mutex mu_;
  SplitMix64 random_ GUARDED_BY(mu_);
  std::unordered_map<std::string, ServerStats> servers_ GUARDED_BY(mu_);
  double neutral_us_ GUARDED_BY(mu_) = 0;  // 0 until the first sample
  int64_t neutral_at_us_ GUARDED_BY(mu_) = 0;
  bool has_neutral_ GUARDED_BY(mu_) = false;
};

}  // namespace beacon::balance
