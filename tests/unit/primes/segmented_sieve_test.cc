#include "primes/segmented_sieve.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "primes/miller_rabin.h"

namespace beacon::primes {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t CountByIsPrime(uint64_t lo, uint64_t hi) {
  uint64_t count = 0;
  for (uint64_t n = lo;; ++n) {
    count += IsPrime(n);
    if (n == hi) break;
  }
  return count;
}

uint64_t CountOrDie(uint64_t lo, uint64_t hi) {
  Result<uint64_t> r = CountPrimes(lo, hi);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ~uint64_t{0};
}

TEST(CountPrimes, PiOfOneMillion) { EXPECT_EQ(CountOrDie(0, 1'000'000), 78498u); }

TEST(CountPrimes, PiOfTenMillionIsTheWidestRangeFromZero) {
  EXPECT_EQ(CountOrDie(0, 9'999'999), 664579u);
  EXPECT_EQ(CountOrDie(1, 10'000'000), 664579u);
}

TEST(CountPrimes, SingleNumberRanges) {
  EXPECT_EQ(CountOrDie(0, 0), 0u);
  EXPECT_EQ(CountOrDie(0, 1), 0u);
  EXPECT_EQ(CountOrDie(1, 1), 0u);
  EXPECT_EQ(CountOrDie(2, 2), 1u);
  EXPECT_EQ(CountOrDie(3, 3), 1u);
  EXPECT_EQ(CountOrDie(4, 4), 0u);
  EXPECT_EQ(CountOrDie(9, 9), 0u);
  EXPECT_EQ(CountOrDie(kMax, kMax), 0u);
  EXPECT_EQ(CountOrDie(18446744073709551557ull, 18446744073709551557ull), 1u);
}

TEST(CountPrimes, AgreesWithIsPrimeOnEverySmallRange) {
  for (uint64_t lo = 0; lo < 200; ++lo) {
    for (uint64_t hi = lo; hi < 200; ++hi) {
      ASSERT_EQ(CountOrDie(lo, hi), CountByIsPrime(lo, hi)) << lo << ".." << hi;
    }
  }
}

TEST(CountPrimes, AgreesWithIsPrimeAboveOneBillion) {
  const uint64_t lo = 1'000'000'000, hi = lo + 1'000'000;
  EXPECT_EQ(CountOrDie(lo, hi), CountByIsPrime(lo, hi));
}

TEST(CountPrimes, AgreesWithIsPrimeAcrossSegmentBoundariesNear2To36) {
  // sqrt(hi) = 2^18 < range width: the sieve alone decides, over 4 segments.
  const uint64_t lo = (uint64_t{1} << 36) - 1'000'001, hi = lo + 2'000'000;
  EXPECT_EQ(CountOrDie(lo, hi), CountByIsPrime(lo, hi));
}

TEST(CountPrimes, AgreesWithIsPrimeNear2To40WhereSurvivorsNeedMillerRabin) {
  const uint64_t lo = (uint64_t{1} << 40) - 300'000, hi = lo + 600'000;
  EXPECT_EQ(CountOrDie(lo, hi), CountByIsPrime(lo, hi));
}

TEST(CountPrimes, AgreesWithIsPrimeJustBelow2To64) {
  EXPECT_EQ(CountOrDie(kMax - 200'000, kMax), CountByIsPrime(kMax - 200'000, kMax));
}

TEST(CountPrimes, TenPrimesInTheLast400NumbersBelow2To64) {
  // 2^64 - {59, 83, 95, 179, 189, 257, 279, 323, 353, 363} (published list).
  EXPECT_EQ(CountOrDie(kMax - 399, kMax), 10u);
  // kMax = 2^64 - 1, so 2^64 - k is kMax - (k - 1).
  EXPECT_EQ(CountOrDie(kMax - 362, kMax - 58), 10u);  // 2^64-363 .. 2^64-59
  EXPECT_EQ(CountOrDie(kMax - 361, kMax - 59), 8u);   // both ends excluded
}

TEST(CountPrimes, AgreesWithIsPrimeAroundSquaresOfBasePrimes) {
  // Ranges starting and ending on p^2, p^2 +- 1 for primes near the bounds.
  for (uint64_t p : {65521ull, 65537ull, 4294967291ull}) {
    const uint64_t sq = p * p;
    EXPECT_EQ(CountOrDie(sq - 1000, sq + 1000), CountByIsPrime(sq - 1000, sq + 1000))
        << p;
    EXPECT_EQ(CountOrDie(sq, sq), 0u) << p;
  }
}

TEST(CountPrimes, LoGreaterThanHiIsInvalid) {
  Result<uint64_t> r = CountPrimes(10, 9);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("lo must be <= hi"), std::string::npos);
}

TEST(CountPrimes, RangeWiderThanTheLimitIsInvalid) {
  EXPECT_EQ(kMaxCountRange, 10'000'000u);
  EXPECT_TRUE(CountPrimes(5, 5 + kMaxCountRange - 1).ok());
  Result<uint64_t> r = CountPrimes(5, 5 + kMaxCountRange);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("10000000"), std::string::npos);
  EXPECT_EQ(CountPrimes(0, kMax).status().code(), StatusCode::kInvalidArgument);
}

TEST(CountPrimes, WidestRangeJustBelow2To64IsCounted) {
  // The costliest accepted call; bounded (about a second in Release).
  Result<uint64_t> r = CountPrimes(kMax - kMaxCountRange + 1, kMax);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Prime density near 2^64 is 1/ln(2^64) ~ 1/44.4: expect ~225,000.
  EXPECT_GT(*r, 215'000u);
  EXPECT_LT(*r, 236'000u);
}

}  // namespace
}  // namespace beacon::primes
