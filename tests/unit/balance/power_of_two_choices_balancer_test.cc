#include "balance/power_of_two_choices_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "balance_test_util.h"
#include "core/clock.h"

namespace beacon::balance {
namespace {

using testing::Servers;

constexpr int64_t kWindowMs = 10000;

// Drives a balancer as a single-threaded session would: pick, let the call
// take the server's latency on the fake clock, report it.
class Session {
 public:
  explicit Session(uint64_t seed = 7) : balancer_(clock_, seed, kWindowMs) {}

  // One call; returns the id picked.
  std::string Call(const std::vector<InstanceInfo>& list) {
    const std::string id = list.at(balancer_.Pick(list)).id;
    const int64_t latency = latency_us_.count(id) ? latency_us_[id] : 100;
    clock_.AdvanceMicros(latency);
    balancer_.OnOutcome(id, /*ok=*/true, latency);
    return id;
  }
  std::map<std::string, int> Calls(const std::vector<InstanceInfo>& list, int n) {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) ++counts[Call(list)];
    return counts;
  }

  FakeClock clock_;
  PowerOfTwoChoicesBalancer balancer_;
  std::map<std::string, int64_t> latency_us_;
};

TEST(PowerOfTwoChoicesBalancer, PrefersTheFasterOfTwo) {
  Session s;
  s.latency_us_ = {{"fast", 100}, {"slow", 1000}};
  auto counts = s.Calls(Servers({"fast", "slow"}), 200);
  EXPECT_GE(counts["fast"], 195);
}

TEST(PowerOfTwoChoicesBalancer, ReactsToASlowServerWithinAFewCalls) {
  Session s;
  const auto list = Servers({"a", "b", "c"});
  s.Calls(list, 300);
  s.latency_us_["c"] = 5000;
  // The first call to c after it slowed down raises its cost at once (peak).
  int picked_c = 0;
  for (int i = 0; i < 200; ++i) picked_c += s.Call(list) == "c";
  EXPECT_LE(picked_c, 1);
  EXPECT_GE(s.balancer_.LatencyEstimateUs("c"), 4000);
}

TEST(PowerOfTwoChoicesBalancer, SlowServerIsTriedAgainAfterTheWindow) {
  Session s;
  const auto list = Servers({"a", "b", "c"});
  s.latency_us_["c"] = 5000;
  s.Calls(list, 300);
  s.latency_us_["c"] = 100;  // c has recovered; nobody knows yet
  // Still within the window: c keeps losing.
  s.clock_.AdvanceMillis(kWindowMs / 5);
  int picked_c = 0;
  for (int i = 0; i < 50; ++i) picked_c += s.Call(list) == "c";
  EXPECT_EQ(picked_c, 0);
  // A window without a sample of c: back at the neutral cost, probed, and
  // once measured fast it takes its share again.
  s.clock_.AdvanceMillis(kWindowMs);
  auto counts = s.Calls(list, 300);
  EXPECT_GE(counts["c"], 60);
}

TEST(PowerOfTwoChoicesBalancer, SpreadsEvenlyAmongEqualServers) {
  Session s;
  auto counts = s.Calls(Servers({"a", "b", "c"}), 3000);
  // Every pick is uniform among equals: 1000 expected each, sd 26.
  for (const auto& [id, n] : counts) {
    EXPECT_GE(n, 900) << id;
    EXPECT_LE(n, 1100) << id;
  }
  EXPECT_EQ(counts.size(), 3u);
}

TEST(PowerOfTwoChoicesBalancer, CallsInFlightMakeAServerCostlier) {
  FakeClock clock;
  PowerOfTwoChoicesBalancer b(clock, 3, kWindowMs);
  const auto list = Servers({"a", "b"});
  const size_t first = b.Pick(list);
  EXPECT_EQ(b.Pick(list), 1 - first);  // the other one, whatever the seed
  EXPECT_EQ(b.Outstanding("a"), 1);
  EXPECT_EQ(b.Outstanding("b"), 1);
  b.OnOutcome("a", true, 100);
  b.OnOutcome("b", false, 0);
  EXPECT_EQ(b.Outstanding("a"), 0);
  EXPECT_EQ(b.Outstanding("b"), 0);
}

TEST(PowerOfTwoChoicesBalancer, OutcomeWithoutAPickNeverCountsBelowZero) {
  FakeClock clock;
  PowerOfTwoChoicesBalancer b(clock, 3, kWindowMs);
  const auto list = Servers({"a"});
  EXPECT_EQ(b.Pick(list), 0u);
  b.OnOutcome("a", true, 100);
  b.OnOutcome("a", true, 100);  // a report by id, no pick
  b.OnOutcome("never-seen", true, 100);
  EXPECT_EQ(b.Outstanding("a"), 0);
  EXPECT_EQ(b.Pick(list), 0u);
  EXPECT_EQ(b.Outstanding("a"), 1);
}

TEST(PowerOfTwoChoicesBalancer, FailureEndsTheCallButGivesNoLatencySample) {
  FakeClock clock;
  PowerOfTwoChoicesBalancer b(clock, 3, kWindowMs);
  const auto list = Servers({"a"});
  b.Pick(list);
  b.OnOutcome("a", true, 800);
  b.Pick(list);
  clock.AdvanceMicros(5);
  b.OnOutcome("a", /*ok=*/false, 0);
  EXPECT_NEAR(b.LatencyEstimateUs("a"), 800, 1);
}

TEST(PowerOfTwoChoicesBalancer, NewServerStartsNeutralAndIsProbed) {
  Session s;
  s.Calls(Servers({"a", "b"}), 100);
  EXPECT_NEAR(s.balancer_.LatencyEstimateUs("new"), 100, 1);
  auto counts = s.Calls(Servers({"a", "b", "new"}), 60);
  EXPECT_GE(counts["new"], 10);
}

TEST(PowerOfTwoChoicesBalancer, ShrinkingListNeverYieldsOutOfRangeIndex) {
  FakeClock clock;
  PowerOfTwoChoicesBalancer b(clock, 5, kWindowMs);
  auto big = Servers({"a", "b", "c", "d", "e"});
  auto small = Servers({"a", "b"});
  for (int i = 0; i < 200; ++i) {
    const size_t from_big = b.Pick(big);
    ASSERT_LT(from_big, big.size());
    b.OnOutcome(big[from_big].id, true, 100);
    const size_t from_small = b.Pick(small);
    ASSERT_LT(from_small, small.size());
    b.OnOutcome(small[from_small].id, true, 100);
  }
}

TEST(PowerOfTwoChoicesBalancer, ChurnDoesNotGrowMemoryWithoutBound) {
  FakeClock clock;
  PowerOfTwoChoicesBalancer b(clock, 5, kWindowMs);
  for (int i = 0; i < 1000; ++i) {
    auto list = Servers({"s" + std::to_string(i), "s" + std::to_string(i + 1)});
    const size_t picked = b.Pick(list);
    b.OnOutcome(list[picked].id, true, 100);
  }
  EXPECT_LE(b.TrackedIds(), PowerOfTwoChoicesBalancer::kPruneFactor * 2 + 1);
}

TEST(PowerOfTwoChoicesBalancer, ConcurrentPicksAndOutcomesBalanceOut) {
  FakeClock clock;
  PowerOfTwoChoicesBalancer b(clock, 11, kWindowMs);
  const auto list = Servers({"a", "b", "c"});
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 5000;
  std::vector<std::vector<int>> per_thread(kThreads, std::vector<int>(list.size(), 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        const size_t picked = b.Pick(list);
        ++per_thread[t][picked];
        b.OnOutcome(list[picked].id, true, 100 + 10 * static_cast<int64_t>(picked));
      }
    });
  }
  for (auto& th : threads) th.join();
  int total = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    int n = 0;
    for (const auto& row : per_thread) n += row[i];
    total += n;
    EXPECT_GT(n, 0) << list[i].id;
    EXPECT_EQ(b.Outstanding(list[i].id), 0) << list[i].id;
  }
  EXPECT_EQ(total, kThreads * kCallsPerThread);
}

}  // namespace
}  // namespace beacon::balance
