#include "primes/miller_rabin.h"

namespace beacon::primes {
namespace {

using u128 = unsigned __int128;

constexpr uint64_t kWitnesses[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};

// Arithmetic modulo an odd n in Montgomery form (R = 2^64). Every product
// goes through unsigned __int128, so nothing overflows for n up to 2^64 - 1;
// REDC replaces the 128-by-64 division a plain (a * b) % n would cost, which
// keeps CountPrimes' Miller-Rabin fallback near 2^64 about 10x cheaper.
class Montgomery {
 public:
  explicit Montgomery(uint64_t n) : n_(n), n_inverse_(Inverse(n)) {
    const uint64_t r_mod_n = (0 - n) % n;  // 2^64 mod n
    r2_ = static_cast<uint64_t>((u128{r_mod_n} * r_mod_n) % n);
    one_ = r_mod_n;
    minus_one_ = n - r_mod_n;
  }

  uint64_t ToForm(uint64_t a) const { return Multiply(a, r2_); }
  uint64_t one() const { return one_; }
  uint64_t minus_one() const { return minus_one_; }

  // a * b / R mod n, for a, b < n.
  uint64_t Multiply(uint64_t a, uint64_t b) const {
    const u128 t = u128{a} * b;
    const uint64_t m = static_cast<uint64_t>(t) * n_inverse_;
    const uint64_t mn_high = static_cast<uint64_t>((u128{m} * n_) >> 64);
    const uint64_t t_high = static_cast<uint64_t>(t >> 64);
    // t - m*n is divisible by R and lies in (-n*R, n*R).
    return t_high >= mn_high ? t_high - mn_high : t_high - mn_high + n_;
  }

  uint64_t Power(uint64_t base_form, uint64_t exponent) const {
    uint64_t result = one_;
    while (exponent != 0) {
      if (exponent & 1) result = Multiply(result, base_form);
      base_form = Multiply(base_form, base_form);
      exponent >>= 1;
    }
    return result;
  }

 private:
  // n^-1 mod 2^64 by Newton's iteration (each step doubles the correct bits).
  static uint64_t Inverse(uint64_t n) {
    uint64_t x = n;  // correct to 3 bits for odd n
    for (int i = 0; i < 5; ++i) x *= 2 - n * x;
    return x;
  }

  uint64_t n_;
  uint64_t n_inverse_;
  uint64_t r2_;
  uint64_t one_;
  uint64_t minus_one_;
};

}  // namespace

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t p : kWitnesses) {
    if (n == p) return true;
    if (n % p == 0) return false;
  }
  // n is odd, > 37 and has no factor up to 37 (so every n < 41^2 is prime).
  if (n < 41 * 41) return true;

  uint64_t d = n - 1;
  int s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  const Montgomery mont(n);
  for (uint64_t a : kWitnesses) {
    uint64_t x = mont.Power(mont.ToForm(a), d);
    if (x == mont.one() || x == mont.minus_one()) continue;
    bool witnessed_composite = true;
    for (int r = 1; r < s; ++r) {
      x = mont.Multiply(x, x);
      if (x == mont.minus_one()) {
        witnessed_composite = false;
        break;
      }
    }
    if (witnessed_composite) return false;
  }
  return true;
}

}  // namespace beacon::primes
