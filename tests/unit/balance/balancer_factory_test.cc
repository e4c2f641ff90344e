#include <gtest/gtest.h>

#include "balance/balancer.h"

namespace beacon::balance {
namespace {

TEST(MakeBalancer, EveryListedNameMakesThatPolicy) {
  for (const std::string& name : BalancerNames()) {
    auto b = MakeBalancer(name);
    ASSERT_TRUE(b.ok()) << name << ": " << b.status().ToString();
    EXPECT_EQ((*b)->Name(), name);
  }
}

TEST(MakeBalancer, KnowsRoundRobinLruAndP2c) {
  EXPECT_EQ(BalancerNames(), (std::vector<std::string>{"round-robin", "lru", "p2c"}));
}

TEST(MakeBalancer, NonPositiveDecayWindowIsInvalidArgument) {
  BalancerContext context;
  context.decay_window_ms = 0;
  auto b = MakeBalancer("p2c", context);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("decay_window_ms"), std::string::npos);
}

TEST(MakeBalancer, UnknownNameIsInvalidArgumentListingKnownNames) {
  auto b = MakeBalancer("random");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message(),
            "balancer \"random\" is unknown (known: round-robin, lru, p2c)");
}

TEST(MakeBalancer, EmptyNameIsInvalidArgument) {
  EXPECT_EQ(MakeBalancer("").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace beacon::balance
