// The hedging policies on their own: parsing --hedge-ms, the adaptive delay,
// the budget.
#include "client/hedging.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace beacon::client {
namespace {

TEST(ParseHedgeMs, AcceptsAutoOffAndMilliseconds) {
  auto a = ParseHedgeMs("auto");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->mode, HedgeMode::kAuto);
  auto off = ParseHedgeMs("off");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->mode, HedgeMode::kOff);
  auto fixed = ParseHedgeMs("25");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->mode, HedgeMode::kFixed);
  EXPECT_EQ(fixed->fixed_delay_us, 25000);
  EXPECT_EQ(HedgeName(*fixed), "25 ms");
  EXPECT_EQ(HedgeName(*a), "auto");
  EXPECT_EQ(HedgeName(*off), "off");
}

TEST(ParseHedgeMs, RefusesAnythingElseNamingTheFlag) {
  for (const char* bad : {"", "0", "-5", "60001", "5ms", "1e3", "Auto", " 5"}) {
    auto r = ParseHedgeMs(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("--hedge-ms"), std::string::npos);
  }
}

TEST(HedgeDelay, FixedIsFixedWhateverTheLatency) {
  HedgeOptions o;
  o.mode = HedgeMode::kFixed;
  o.fixed_delay_us = 7000;
  HedgeDelay d(o);
  for (int i = 0; i < 1000; ++i) d.Record(100);
  EXPECT_EQ(d.delay_us(), 7000);
}

TEST(HedgeDelay, AutoStartsColdUntilEnoughSamples) {
  HedgeDelay d(HedgeOptions{});
  for (size_t i = 0; i + 1 < HedgeDelay::kMinSamples; ++i) d.Record(5000);
  EXPECT_EQ(d.delay_us(), HedgeDelay::kColdUs);
  d.Record(5000);
  EXPECT_EQ(d.delay_us(), 5000);
}

TEST(HedgeDelay, AutoIsTheNinetyNinthPercentileOfTheWindow) {
  HedgeDelay d(HedgeOptions{});
  // 500 fast answers and 12 slow ones (2.3 %): p99 is among the slow.
  for (int i = 0; i < 500; ++i) d.Record(2000);
  for (int i = 0; i < 12; ++i) d.Record(40000);
  for (size_t i = 0; i < HedgeDelay::kRecomputeEvery; ++i) d.Record(2000);
  EXPECT_EQ(d.delay_us(), 40000);
  // 4 slow ones in a full window (0.8 %): p99 is the fast latency.
  HedgeDelay e(HedgeOptions{});
  for (int i = 0; i < 4; ++i) e.Record(40000);
  for (size_t i = 0; i < HedgeDelay::kWindow - 4; ++i) e.Record(2000);
  EXPECT_EQ(e.delay_us(), 2000);
}

TEST(HedgeDelay, AutoIsTheSortedWindowsRankAtEveryRecompute) {
  // Against a plain sort of the same samples, from the first warm window on,
  // with many ties and values around the floor.
  HedgeDelay d(HedgeOptions{});
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> latency(500, 3000);
  std::vector<int64_t> all;
  for (int i = 0; i < 3000; ++i) {
    const int64_t v = (i % 97 == 0) ? 40000 + i : latency(rng) / 10 * 10;
    all.push_back(v);
    d.Record(v);
    const size_t n = std::min(all.size(), HedgeDelay::kWindow);
    const bool recomputed =
        n >= HedgeDelay::kMinSamples &&
        (n == HedgeDelay::kMinSamples ||
         (all.size() - HedgeDelay::kMinSamples) % HedgeDelay::kRecomputeEvery == 0);
    if (!recomputed) continue;
    std::vector<int64_t> window(all.end() - static_cast<std::ptrdiff_t>(n), all.end());
    std::sort(window.begin(), window.end());
    const int64_t p99 = window[std::min(n - 1, n * 99 / 100)];
    ASSERT_EQ(d.delay_us(), std::clamp(p99, HedgeDelay::kFloorUs, HedgeDelay::kCeilingUs))
        << "after " << all.size() << " samples";
  }
}

TEST(HedgeDelay, AutoAdaptsWhenLatencyChangesAndKeepsItsFloor) {
  HedgeDelay d(HedgeOptions{});
  // A full window of new samples and a recompute after it.
  constexpr size_t kRefill = HedgeDelay::kWindow + HedgeDelay::kRecomputeEvery;
  for (size_t i = 0; i < kRefill; ++i) d.Record(3000);
  EXPECT_EQ(d.delay_us(), 3000);
  for (size_t i = 0; i < kRefill; ++i) d.Record(20000);
  EXPECT_EQ(d.delay_us(), 20000) << "slower replicas: a later hedge";
  for (size_t i = 0; i < kRefill; ++i) d.Record(50);
  EXPECT_EQ(d.delay_us(), HedgeDelay::kFloorUs) << "never below the floor";
  for (size_t i = 0; i < kRefill; ++i) d.Record(100'000'000);
  EXPECT_EQ(d.delay_us(), HedgeDelay::kCeilingUs);
}

TEST(HedgeBudget, AllowsTheBurstThenTheRatio) {
  HedgeOptions o;
  o.budget_ratio = 0.1;
  o.budget_burst = 5;
  HedgeBudget b(o);
  int hedges = 0;
  for (int call = 0; call < 1000; ++call) {
    b.OnCall();
    if (b.TryWithdraw()) ++hedges;
  }
  EXPECT_LE(hedges, 5 + 100);
  EXPECT_GE(hedges, 5 + 98);  // 0.1 does not add up exactly in binary
}

TEST(HedgeBudget, RefundGivesTheTokenBackAndNeverExceedsTheBurst) {
  HedgeOptions o;
  o.budget_burst = 2;
  HedgeBudget b(o);
  ASSERT_TRUE(b.TryWithdraw());
  ASSERT_TRUE(b.TryWithdraw());
  EXPECT_FALSE(b.TryWithdraw());
  b.Refund();
  EXPECT_TRUE(b.TryWithdraw());
  for (int i = 0; i < 100; ++i) b.OnCall();
  EXPECT_DOUBLE_EQ(b.tokens(), 2);
}

}  // namespace
}  // namespace beacon::client
