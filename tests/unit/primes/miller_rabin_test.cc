#include "primes/miller_rabin.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace beacon::primes {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::vector<bool> SieveUpTo(uint64_t n) {
  std::vector<bool> prime(n + 1, true);
  prime[0] = false;
  prime[1] = false;
  for (uint64_t p = 2; p * p <= n; ++p) {
    if (!prime[p]) continue;
    for (uint64_t m = p * p; m <= n; m += p) prime[m] = false;
  }
  return prime;
}

// Reference Miller-Rabin with plain (a * b) % n: different arithmetic from
// the Montgomery form IsPrime uses, same deterministic witness set.
bool ReferenceIsPrime(uint64_t n) {
  using u128 = unsigned __int128;
  if (n < 2) return false;
  const uint64_t witnesses[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  for (uint64_t p : witnesses) {
    if (n % p == 0) return n == p;
  }
  uint64_t d = n - 1;
  int s = 0;
  while (d % 2 == 0) {
    d /= 2;
    ++s;
  }
  for (uint64_t a : witnesses) {
    uint64_t x = 1, base = a % n, e = d;
    while (e) {
      if (e & 1) x = static_cast<uint64_t>(u128{x} * base % n);
      base = static_cast<uint64_t>(u128{base} * base % n);
      e >>= 1;
    }
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int r = 1; r < s && composite; ++r) {
      x = static_cast<uint64_t>(u128{x} * x % n);
      if (x == n - 1) composite = false;
    }
    if (composite) return false;
  }
  return true;
}

TEST(IsPrime, AgreesWithSieveBelowOneMillion) {
  const uint64_t n = 1'000'000;
  const std::vector<bool> prime = SieveUpTo(n);
  for (uint64_t i = 0; i < n; ++i) {
    ASSERT_EQ(IsPrime(i), prime[i]) << i;
  }
}

TEST(IsPrime, ZeroOneAndTwoAreBoundaries) {
  EXPECT_FALSE(IsPrime(0));
  EXPECT_FALSE(IsPrime(1));
  EXPECT_TRUE(IsPrime(2));
  EXPECT_TRUE(IsPrime(3));
  EXPECT_FALSE(IsPrime(4));
}

TEST(IsPrime, WitnessPrimesAndTheirSquaresAndProducts) {
  const uint64_t witnesses[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  for (uint64_t p : witnesses) {
    EXPECT_TRUE(IsPrime(p)) << p;
    EXPECT_FALSE(IsPrime(p * p)) << p * p;
    EXPECT_FALSE(IsPrime(p * 41)) << p * 41;
  }
  EXPECT_TRUE(IsPrime(41));
  EXPECT_FALSE(IsPrime(41 * 41));
  EXPECT_TRUE(IsPrime(43));
}

TEST(IsPrime, EvenNumbersAboveTwoAreComposite) {
  for (uint64_t n : {uint64_t{4}, uint64_t{1} << 32, kMax - 1, uint64_t{1} << 63}) {
    EXPECT_FALSE(IsPrime(n)) << n;
  }
}

TEST(IsPrime, CarmichaelNumbersAreComposite) {
  for (uint64_t n : {561ull, 1105ull, 1729ull, 2465ull, 2821ull, 6601ull, 8911ull,
                     41041ull, 825265ull, 321197185ull}) {
    EXPECT_FALSE(IsPrime(n)) << n;
  }
}

TEST(IsPrime, StrongPseudoprimesToSmallerBaseSetsAreComposite) {
  // Each passes Miller-Rabin for the listed bases; only the full witness
  // set (or a larger one) exposes it.
  EXPECT_FALSE(
      IsPrime(3825123056546413051ull));       // spsp(2..23) = 149491 * 747451 * 34233211
  EXPECT_FALSE(IsPrime(3215031751ull));       // spsp(2, 3, 5, 7)
  EXPECT_FALSE(IsPrime(2152302898747ull));    // spsp(2..11)
  EXPECT_FALSE(IsPrime(341550071728321ull));  // spsp(2..17)
}

TEST(IsPrime, LargestPrimesBelowPowersOfTwo) {
  EXPECT_TRUE(IsPrime(18446744073709551557ull));  // 2^64 - 59, the largest
  EXPECT_FALSE(IsPrime(kMax));                    // 2^64 - 1 = 3 * 5 * 17 * ...
  for (uint64_t n = 18446744073709551557ull + 1; n != 0; ++n) {
    EXPECT_FALSE(IsPrime(n)) << n;  // nothing above it is prime
  }
  EXPECT_TRUE(IsPrime(9223372036854775783ull));   // 2^63 - 25
  EXPECT_TRUE(IsPrime((uint64_t{1} << 61) - 1));  // Mersenne prime
  EXPECT_TRUE(IsPrime(4294967291ull));            // 2^32 - 5
  EXPECT_TRUE(IsPrime(4294967311ull));            // 2^32 + 15
}

TEST(IsPrime, ProductsOfLargePrimesAreComposite) {
  EXPECT_FALSE(IsPrime(4294967291ull * 4294967279ull));  // (2^32-5)(2^32-17)
  EXPECT_FALSE(IsPrime(4294967291ull * 4294967291ull));  // a prime square
  EXPECT_FALSE(IsPrime(3037000493ull * 3037000453ull));  // near 2^63
  EXPECT_FALSE(IsPrime(((uint64_t{1} << 31) - 1) * ((uint64_t{1} << 31) - 1)));
}

TEST(IsPrime, AgreesWithPlainModularReferenceOnRandom64BitNumbers) {
  std::mt19937_64 rng(20240601);
  int primes = 0;
  for (int i = 0; i < 200'000; ++i) {
    const uint64_t n = rng() | 1;
    const bool expected = ReferenceIsPrime(n);
    ASSERT_EQ(IsPrime(n), expected) << n;
    primes += expected;
  }
  EXPECT_GT(primes, 1000);  // about 1 in 22 odd 64-bit numbers is prime
}

}  // namespace
}  // namespace beacon::primes
