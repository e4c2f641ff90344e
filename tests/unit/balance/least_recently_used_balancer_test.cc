#include "balance/least_recently_used_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
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

TEST(LeastRecentlyUsedBalancer, NeverPickedServersGoFirstThenInTheSameOrder) {
  LeastRecentlyUsedBalancer lru;
  auto list = Servers({"a", "b", "c"});
  const std::vector<std::string> ids = PickIds(lru, list, 6);
  const std::vector<std::string> first(ids.begin(), ids.begin() + 3);
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()),
            (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(std::vector<std::string>(ids.begin() + 3, ids.end()), first);
}

TEST(LeastRecentlyUsedBalancer, FirstPickAmongUnusedServersDependsOnTheSeed) {
  auto list = Servers({"a", "b", "c"});
  std::set<std::string> firsts;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    LeastRecentlyUsedBalancer lru(seed);
    firsts.insert(list.at(lru.Pick(list)).id);
  }
  EXPECT_EQ(firsts, (std::set<std::string>{"a", "b", "c"}));
}

TEST(LeastRecentlyUsedBalancer, ThirtyPicksOverThreeServersAreTenEach) {
  LeastRecentlyUsedBalancer lru;
  auto list = Servers({"a", "b", "c"});
  std::map<std::string, int> counts;
  for (const std::string& id : PickIds(lru, list, 30)) ++counts[id];
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}}));
}

TEST(LeastRecentlyUsedBalancer, SingleCandidateIsAlwaysPicked) {
  LeastRecentlyUsedBalancer lru;
  auto list = Servers({"only"});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(lru.Pick(list), 0u);
}

TEST(LeastRecentlyUsedBalancer, NewlyAddedServerIsPickedFirst) {
  LeastRecentlyUsedBalancer lru;
  PickIds(lru, Servers({"a", "b"}), 5);
  EXPECT_EQ(PickIds(lru, Servers({"a", "b", "new"}), 1), std::vector<std::string>{"new"});
}

TEST(LeastRecentlyUsedBalancer, OldestPickWinsWhateverTheListOrder) {
  LeastRecentlyUsedBalancer lru;
  const auto first = PickIds(lru, Servers({"a", "b", "c"}), 3);  // stamps in this order
  EXPECT_EQ(PickIds(lru, Servers({"c", "b", "a"}), 3), first);
}

TEST(LeastRecentlyUsedBalancer, ServerBackFromAbsenceIsPickedBeforeBusyOnes) {
  LeastRecentlyUsedBalancer lru;
  PickIds(lru, Servers({"a", "b", "c"}), 3);
  PickIds(lru, Servers({"a", "b"}), 4);  // c is absent (e.g. marked down)
  EXPECT_EQ(PickIds(lru, Servers({"a", "b", "c"}), 1), std::vector<std::string>{"c"});
}

TEST(LeastRecentlyUsedBalancer, ShrinkingListNeverYieldsOutOfRangeIndex) {
  LeastRecentlyUsedBalancer lru;
  auto big = Servers({"a", "b", "c", "d", "e"});
  auto small = Servers({"d", "e"});
  for (int i = 0; i < 100; ++i) {
    EXPECT_LT(lru.Pick(big), big.size());
    EXPECT_LT(lru.Pick(small), small.size());
  }
}

TEST(LeastRecentlyUsedBalancer, FairnessIsRestoredAfterListGrows) {
  LeastRecentlyUsedBalancer lru;
  PickIds(lru, Servers({"a", "b"}), 5);
  std::map<std::string, int> counts;
  for (const std::string& id : PickIds(lru, Servers({"a", "b", "c", "d"}), 40))
    ++counts[id];
  EXPECT_EQ(counts,
            (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}, {"d", 10}}));
}

TEST(LeastRecentlyUsedBalancer, ChurningIdsKeepMemoryBounded) {
  LeastRecentlyUsedBalancer lru;
  for (int round = 0; round < 1000; ++round) {
    const std::string r = std::to_string(round);
    PickIds(lru, Servers({"x" + r, "y" + r, "z" + r}), 3);
    EXPECT_LE(lru.TrackedIds(), LeastRecentlyUsedBalancer::kPruneFactor * 3);
  }
}

TEST(LeastRecentlyUsedBalancer, ConcurrentPicksShareEvenly) {
  LeastRecentlyUsedBalancer lru;
  const auto list = Servers({"a", "b", "c"});
  constexpr int kThreads = 8;
  constexpr int kPicksPerThread = 10000;
  std::vector<std::vector<int>> per_thread(kThreads, std::vector<int>(list.size(), 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPicksPerThread; ++i) ++per_thread[t][lru.Pick(list)];
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int> totals(list.size(), 0);
  for (const auto& row : per_thread) {
    for (size_t i = 0; i < row.size(); ++i) totals[i] += row[i];
  }
  // Picks are serialized and stamped, so the sequence is a strict rotation.
  EXPECT_EQ(totals, (std::vector<int>{26667, 26667, 26666}));
}

}  // namespace
}  // namespace beacon::balance
