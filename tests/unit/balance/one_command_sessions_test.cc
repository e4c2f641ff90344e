// Many one-command sessions (a fresh balancer each, one pick) must spread over
// the servers under every policy, not all start on the first one.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "balance/balancer.h"
#include "balance_test_util.h"

namespace beacon::balance {
namespace {

using testing::Servers;

TEST(OneCommandSessions, ThreeHundredSpreadOverThreeServersUnderEveryPolicy) {
  const auto list = Servers({"r1", "r2", "r3"});
  for (const std::string& name : BalancerNames()) {
    std::map<std::string, int> counts;
    // Seeds fixed (as random_device would give them, but the same every run),
    // so the test is deterministic. With a uniform first pick each count is
    // Binomial(300, 1/3): mean 100, sd 8.2; the bounds 75..126 (25 %..42 %)
    // are 3.1 sd out, and a policy that always starts on one server gives
    // 300/0/0.
    SplitMix64 seeds(20261128);
    for (int session = 0; session < 300; ++session) {
      BalancerContext context;
      context.seed = seeds.Next() | 1;  // 0 means "pick a random seed"
      auto b = MakeBalancer(name, context);
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      ++counts[list.at((*b)->Pick(list)).id];
    }
    for (const auto& server : list) {
      EXPECT_GE(counts[server.id], 75) << name << " " << server.id;
      EXPECT_LE(counts[server.id], 126) << name << " " << server.id;
    }
  }
}

}  // namespace
}  // namespace beacon::balance
