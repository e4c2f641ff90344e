// Counting the primes in a range of unsigned 64-bit numbers.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace beacon::primes {

// The widest range one CountPrimes call accepts (hi - lo + 1), so a single
// request cannot occupy a server for long.
inline constexpr uint64_t kMaxCountRange = 10'000'000;

// Number of primes p with lo <= p <= hi. Exact for every 64-bit range.
// kInvalidArgument when lo > hi or the range is wider than kMaxCountRange.
//
// A segmented sieve of Eratosthenes over [lo, hi], crossing off multiples of
// the odd base primes up to min(sqrt(hi), max(range width, 2^16)). When that
// bound reaches sqrt(hi) the sieve alone decides; otherwise (only for hi above
// ~2^32) survivors above bound^2 are confirmed by IsPrime. Sieving all base
// primes up to sqrt(2^64) = 2^32 would cost seconds for any range near 2^64;
// this keeps memory at O(range) and time at O(range), at most about a second
// for the widest range near 2^64. Pure function; safe for concurrent use.
Result<uint64_t> CountPrimes(uint64_t lo, uint64_t hi);

}  // namespace beacon::primes
