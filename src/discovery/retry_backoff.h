// RetryBackoff: how long a background loop waits before retrying a registry
// that did not answer. Delays double up to a cap and are jittered so many
// clients that lost the registry together do not come back in lock-step.
#pragma once

#include <cstdint>
#include <random>

namespace beacon::discovery {

// The n-th delay (n from 0) is drawn uniformly from
// [max(min_ms, base/2), base] where base = min(max_ms, min_ms * 2^n).
// Reset() starts over after a success.
// Not thread-safe; one per loop.
class RetryBackoff {
 public:
  // Requires 0 < min_ms <= max_ms (the cache validates its options).
  RetryBackoff(int64_t min_ms, int64_t max_ms, uint64_t seed);

  // The delay before the next attempt, in milliseconds.
  int64_t NextDelayMs();
  void Reset() { attempt_ = 0; }

 private:
  const int64_t min_ms_;
  const int64_t max_ms_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace beacon::discovery
