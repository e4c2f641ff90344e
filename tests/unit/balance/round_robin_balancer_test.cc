#include "balance/round_robin_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "balance_test_util.h"

namespace beacon::balance {
namespace {

using testing::Servers;

std::vector<std::string> PickIds(Balancer& b, const std::vector<InstanceInfo>& list,
                                 int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(list.at(b.Pick(list)).id);
  return ids;
}

TEST(RoundRobinBalancer, CyclesInListOrder) {
  RoundRobinBalancer rr;
  auto list = Servers({"a", "b", "c"});
  EXPECT_EQ(PickIds(rr, list, 7),
            (std::vector<std::string>{"a", "b", "c", "a", "b", "c", "a"}));
}

TEST(RoundRobinBalancer, StartsAtTheGivenPosition) {
  RoundRobinBalancer rr(/*start=*/4);
  EXPECT_EQ(PickIds(rr, Servers({"a", "b", "c"}), 4),
            (std::vector<std::string>{"b", "c", "a", "b"}));
}

TEST(RoundRobinBalancer, ThirtyPicksOverThreeServersAreTenEach) {
  RoundRobinBalancer rr;
  auto list = Servers({"a", "b", "c"});
  std::map<std::string, int> counts;
  for (const std::string& id : PickIds(rr, list, 30)) ++counts[id];
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}}));
}

TEST(RoundRobinBalancer, SingleCandidateIsAlwaysPicked) {
  RoundRobinBalancer rr;
  auto list = Servers({"only"});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rr.Pick(list), 0u);
}

TEST(RoundRobinBalancer, ShrinkingListNeverYieldsOutOfRangeIndex) {
  RoundRobinBalancer rr;
  auto big = Servers({"a", "b", "c", "d", "e"});
  auto small = Servers({"a", "b"});
  for (int i = 0; i < 100; ++i) {
    EXPECT_LT(rr.Pick(big), big.size());
    EXPECT_LT(rr.Pick(small), small.size());
  }
}

TEST(RoundRobinBalancer, FairnessIsRestoredAfterListGrows) {
  RoundRobinBalancer rr;
  PickIds(rr, Servers({"a", "b"}), 5);
  auto grown = Servers({"a", "b", "c", "d"});
  std::map<std::string, int> counts;
  for (const std::string& id : PickIds(rr, grown, 40)) ++counts[id];
  EXPECT_EQ(counts,
            (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}, {"d", 10}}));
}

TEST(RoundRobinBalancer, ReorderedListKeepsEvenShares) {
  RoundRobinBalancer rr;
  std::map<std::string, int> counts;
  auto forward = Servers({"a", "b", "c"});
  auto backward = Servers({"c", "b", "a"});
  for (int round = 0; round < 10; ++round) {
    for (const std::string& id : PickIds(rr, round % 2 ? backward : forward, 3))
      ++counts[id];
  }
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}}));
}

TEST(RoundRobinBalancer, ConcurrentPicksShareEvenly) {
  RoundRobinBalancer rr;
  const auto list = Servers({"a", "b", "c"});
  constexpr int kThreads = 8;
  constexpr int kPicksPerThread = 10000;
  // Each thread counts into its own row; rows are summed after join.
  std::vector<std::vector<int>> per_thread(kThreads, std::vector<int>(list.size(), 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPicksPerThread; ++i) ++per_thread[t][rr.Pick(list)];
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int> totals(list.size(), 0);
  for (const auto& row : per_thread) {
    for (size_t i = 0; i < row.size(); ++i) totals[i] += row[i];
  }
  // 80000 tickets mod 3: exactly 26667/26667/26666 whatever the interleaving.
  EXPECT_EQ(totals, (std::vector<int>{26667, 26667, 26666}));
}

}  // namespace
}  // namespace beacon::balance
