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

TEST(MakeBalancer, KnowsRoundRobinAndLru) {
  EXPECT_EQ(BalancerNames(), (std::vector<std::string>{"round-robin", "lru"}));
}

TEST(MakeBalancer, UnknownNameIsInvalidArgumentListingKnownNames) {
  auto b = MakeBalancer("random");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message(),
            "balancer \"random\" is unknown (known: round-robin, lru)");
}

TEST(MakeBalancer, EmptyNameIsInvalidArgument) {
  EXPECT_EQ(MakeBalancer("").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace beacon::balance
