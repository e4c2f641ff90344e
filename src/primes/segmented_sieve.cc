#include "primes/segmented_sieve.h"

#include <algorithm>
#include <string>
#include <vector>

#include "primes/miller_rabin.h"

namespace beacon::primes {
namespace {

// Odd numbers per sieve segment: 256 KiB of flags, about the L2 cache.
constexpr uint64_t kSegmentOdds = uint64_t{1} << 18;
// Base primes are always sieved at least this far (cheap), so small ranges
// high up still drop most composites before Miller-Rabin.
constexpr uint64_t kMinBaseBound = uint64_t{1} << 16;

// floor(sqrt(n)) for any 64-bit n.
uint64_t IntegerSqrt(uint64_t n) {
  uint64_t r = static_cast<uint64_t>(__builtin_sqrt(static_cast<double>(n)));
  // The double estimate may be off by one either way; r <= 2^32 here.
  while (r > 0 && (r > 0xFFFFFFFFull || r * r > n)) --r;
  while (r < 0xFFFFFFFFull && (r + 1) * (r + 1) <= n) ++r;
  return r;
}

// The odd primes <= bound (bound <= kMaxCountRange or 2^16), by a plain
// sieve over odd numbers.
std::vector<uint64_t> OddPrimesUpTo(uint64_t bound) {
  std::vector<uint64_t> primes;
  if (bound < 3) return primes;
  const uint64_t odds = (bound - 1) / 2;     // 3, 5, ..., <= bound
  std::vector<bool> composite(odds, false);  // index i is 2i + 3
  for (uint64_t i = 0; i < odds; ++i) {
    if (composite[i]) continue;
    const uint64_t p = 2 * i + 3;
    primes.push_back(p);
    for (uint64_t j = (p * p - 3) / 2; j < odds; j += p) composite[j] = true;
  }
  return primes;
}

}  // namespace

Result<uint64_t> CountPrimes(uint64_t lo, uint64_t hi) {
  if (lo > hi) {
    return InvalidArgument("lo must be <= hi, got lo=" + std::to_string(lo) +
                           " hi=" + std::to_string(hi));
  }
  if (hi - lo >= kMaxCountRange) {
    return InvalidArgument("range hi - lo + 1 must be at most " +
                           std::to_string(kMaxCountRange) + " (kMaxCountRange)");
  }

  uint64_t count = (lo <= 2 && 2 <= hi) ? 1 : 0;
  // The odd numbers first = a, a + 2, ..., last = b.
  const uint64_t a = std::max<uint64_t>(lo, 3) | 1;  // 2^64 - 1 is odd: no overflow
  const uint64_t b = (hi & 1) ? hi : hi - 1;
  if (hi < 3 || a > b) return count;
  const uint64_t odds = (b - a) / 2 + 1;

  const uint64_t root = IntegerSqrt(hi);
  const uint64_t bound = std::min(root, std::max(hi - lo + 1, kMinBaseBound));
  const uint64_t sieve_decides_up_to = bound * bound;  // bound < 2^32
  const std::vector<uint64_t> base = OddPrimesUpTo(bound);

  // next[k]: index (value a + 2 * index) of the next odd multiple of base[k]
  // still to cross off, starting at p^2 (smaller multiples have a smaller
  // factor). An index >= odds means none is left in the range.
  std::vector<uint64_t> next(base.size());
  for (size_t k = 0; k < base.size(); ++k) {
    const uint64_t p = base[k];
    uint64_t first;
    if (p * p >= a) {
      first = p * p;
    } else {
      const uint64_t to_multiple = (p - a % p) % p;
      if (to_multiple > b - a) {
        next[k] = odds;
        continue;
      }
      first = a + to_multiple;
      if ((first & 1) == 0) {  // the next multiple is odd
        if (p > b - first) {
          next[k] = odds;
          continue;
        }
        first += p;
      }
    }
    next[k] = first > b ? odds : (first - a) / 2;
  }

  std::vector<char> composite(std::min(odds, kSegmentOdds));
  for (uint64_t start = 0; start < odds; start += kSegmentOdds) {
    const uint64_t end = std::min(odds, start + kSegmentOdds);
    std::fill(composite.begin(), composite.end(), 0);
    for (size_t k = 0; k < base.size(); ++k) {
      const uint64_t p = base[k];
      uint64_t j = next[k];
      for (; j < end; j += p) composite[j - start] = 1;
      next[k] = j;
    }
    for (uint64_t i = start; i < end; ++i) {
      if (composite[i - start]) continue;
      const uint64_t n = a + 2 * i;
      if (n <= sieve_decides_up_to || IsPrime(n)) ++count;
    }
  }
  return count;
}

}  // namespace beacon::primes
