#include "balance/power_of_two_choices_balancer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <unordered_set>

namespace beacon::balance {
namespace {

// The weight an old value keeps after `dt_us` with time constant `tau_us`.
double Keep(int64_t dt_us, double tau_us) {
  return dt_us <= 0 ? 1.0 : std::exp(-static_cast<double>(dt_us) / tau_us);
}

}  // namespace

PowerOfTwoChoicesBalancer::PowerOfTwoChoicesBalancer(const Clock& clock, uint64_t seed,
                                                     int64_t decay_window_ms)
    : clock_(clock),
      window_us_(decay_window_ms * 1000),
      tau_us_(static_cast<double>(decay_window_ms) * 1000.0 / 5.0),
      random_(seed) {
  assert(decay_window_ms > 0);
}

double PowerOfTwoChoicesBalancer::NeutralLocked() const {
  return has_neutral_ ? neutral_us_ : 0.0;
}

double PowerOfTwoChoicesBalancer::EstimateLocked(const ServerStats* stats,
                                                 int64_t now_us) const {
  const double neutral = NeutralLocked();
  if (stats == nullptr || !stats->sampled) return neutral;
  const int64_t idle_us = now_us - stats->sampled_at_us;
  if (idle_us >= window_us_) return neutral;
  return neutral + (stats->estimate_us - neutral) * Keep(idle_us, tau_us_);
}

double PowerOfTwoChoicesBalancer::CostLocked(const std::string& id, int64_t now_us) {
  auto it = servers_.find(id);
  const ServerStats* stats = it == servers_.end() ? nullptr : &it->second;
  // At least 1 µs, so calls in flight count even before any sample.
  const double latency = std::max(1.0, EstimateLocked(stats, now_us));
  const int64_t outstanding = stats == nullptr ? 0 : stats->outstanding;
  return latency * static_cast<double>(outstanding + 1);
}

size_t PowerOfTwoChoicesBalancer::Pick(const std::vector<InstanceInfo>& candidates) {
  assert(!candidates.empty());
  const int64_t now_us = clock_.NowMicros();
  MutexLock lock(mu_);
  size_t chosen = 0;
  if (candidates.size() > 1) {
    // Two different indices, uniformly, in random order.
    const size_t first = random_.Below(candidates.size());
    size_t second = random_.Below(candidates.size() - 1);
    if (second >= first) ++second;
    const double cost_first = CostLocked(candidates[first].id, now_us);
    const double cost_second = CostLocked(candidates[second].id, now_us);
    // A tie goes to `first`, which is itself random.
    chosen = cost_second < cost_first * (1 - kTieTolerance) ? second : first;
  }
  ++servers_[candidates[chosen].id].outstanding;
  if (servers_.size() > kPruneFactor * candidates.size()) PruneLocked(candidates);
  return chosen;
}

void PowerOfTwoChoicesBalancer::OnOutcome(const std::string& instance_id, bool ok,
                                          int64_t latency_us) {
  const int64_t now_us = clock_.NowMicros();
  MutexLock lock(mu_);
  auto it = servers_.find(instance_id);
  if (it == servers_.end()) return;  // never picked, or forgotten
  ServerStats& s = it->second;
  if (s.outstanding > 0) --s.outstanding;
  if (!ok) return;
  const double sample = static_cast<double>(std::max<int64_t>(0, latency_us));

  // The server's estimate: from where it has faded to, peak or blend.
  const double before = EstimateLocked(&s, now_us);
  const double keep = s.sampled ? Keep(now_us - s.sampled_at_us, tau_us_) : 0.0;
  s.estimate_us = sample > before ? sample : before * keep + sample * (1 - keep);
  s.sampled_at_us = now_us;
  s.sampled = true;

  // The neutral cost: a plain time-weighted average over every server.
  if (!has_neutral_) {
    neutral_us_ = sample;
    has_neutral_ = true;
  } else {
    const double k = Keep(now_us - neutral_at_us_, tau_us_);
    neutral_us_ = neutral_us_ * k + sample * (1 - k);
  }
  neutral_at_us_ = now_us;
}

void PowerOfTwoChoicesBalancer::PruneLocked(const std::vector<InstanceInfo>& candidates) {
  std::unordered_set<std::string> present;
  present.reserve(candidates.size());
  for (const InstanceInfo& c : candidates) present.insert(c.id);
  for (auto it = servers_.begin(); it != servers_.end();) {
    const bool keep = present.count(it->first) || it->second.outstanding > 0;
    it = keep ? std::next(it) : servers_.erase(it);
  }
}

double PowerOfTwoChoicesBalancer::LatencyEstimateUs(const std::string& id) const {
  const int64_t now_us = clock_.NowMicros();
  MutexLock lock(mu_);
  auto it = servers_.find(id);
  return EstimateLocked(it == servers_.end() ? nullptr : &it->second, now_us);
}

int64_t PowerOfTwoChoicesBalancer::Outstanding(const std::string& id) const {
  MutexLock lock(mu_);
  auto it = servers_.find(id);
  return it == servers_.end() ? 0 : it->second.outstanding;
}

size_t PowerOfTwoChoicesBalancer::TrackedIds() const {
  MutexLock lock(mu_);
  return servers_.size();
}

}  // namespace beacon::balance
