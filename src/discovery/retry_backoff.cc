#include "discovery/retry_backoff.h"

#include <algorithm>
#include <cassert>

namespace beacon::discovery {

RetryBackoff::RetryBackoff(int64_t min_ms, int64_t max_ms, uint64_t seed)
    : min_ms_(min_ms), max_ms_(max_ms), rng_(seed) {
  assert(min_ms > 0 && min_ms <= max_ms);
}

int64_t RetryBackoff::NextDelayMs() {
  int64_t base = min_ms_;
  // Doubling stops at the cap, so it cannot overflow.
  for (int i = 0; i < attempt_ && base < max_ms_; ++i) base *= 2;
  base = std::min(base, max_ms_);
  if (base < max_ms_) ++attempt_;
  const int64_t low = std::max(min_ms_, base / 2);
  return std::uniform_int_distribution<int64_t>(low, base)(rng_);
}

}  // namespace beacon::discovery
