#include "discovery/retry_backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace beacon::discovery {
namespace {

TEST(RetryBackoff, FirstDelayIsTheMinimum) {
  RetryBackoff backoff(100, 3000, 1);
  EXPECT_EQ(backoff.NextDelayMs(), 100);
}

TEST(RetryBackoff, DelaysDoubleWithinJitterBounds) {
  RetryBackoff backoff(100, 3000, 7);
  backoff.NextDelayMs();
  const int64_t second = backoff.NextDelayMs();
  EXPECT_GE(second, 100);
  EXPECT_LE(second, 200);
  const int64_t third = backoff.NextDelayMs();
  EXPECT_GE(third, 200);
  EXPECT_LE(third, 400);
}

TEST(RetryBackoff, DelaysAreCappedAtMaximum) {
  RetryBackoff backoff(100, 3000, 3);
  for (int i = 0; i < 100; ++i) backoff.NextDelayMs();
  for (int i = 0; i < 100; ++i) {
    const int64_t d = backoff.NextDelayMs();
    EXPECT_GE(d, 1500);
    EXPECT_LE(d, 3000);
  }
}

TEST(RetryBackoff, CappedDelaysAreJittered) {
  RetryBackoff backoff(100, 3000, 11);
  for (int i = 0; i < 10; ++i) backoff.NextDelayMs();
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) seen.insert(backoff.NextDelayMs());
  EXPECT_GT(seen.size(), 1u);
}

TEST(RetryBackoff, ResetStartsOverAtTheMinimum) {
  RetryBackoff backoff(100, 3000, 5);
  for (int i = 0; i < 10; ++i) backoff.NextDelayMs();
  backoff.Reset();
  EXPECT_EQ(backoff.NextDelayMs(), 100);
}

TEST(RetryBackoff, EqualMinAndMaxGiveThatDelay) {
  RetryBackoff backoff(50, 50, 9);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(backoff.NextDelayMs(), 50);
}

}  // namespace
}  // namespace beacon::discovery
