// Balancing against a real registry and real replicas on loopback: many
// one-command sessions spread over the replicas under every policy, and p2c
// keeps calls away from a replica that answers slowly.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "Prime.h"
#include "balance/balancer.h"
#include "client/session.h"
#include "cluster_fixture.h"
#include "rpc/thrift_logging.h"

namespace beacon {
namespace {

using testing::Cluster;

::testing::AssertionResult Ready(Cluster& cluster, size_t replicas) {
  if (!cluster.registry().ok()) return ::testing::AssertionFailure() << "registry not up";
  for (auto& r : cluster.replicas()) {
    if (!r->ok()) return ::testing::AssertionFailure() << "a replica did not start";
  }
  if (!cluster.WaitForInstances("prime", replicas)) {
    return ::testing::AssertionFailure() << "replicas did not register";
  }
  return ::testing::AssertionSuccess();
}

TEST(Balancing, OneCommandSessionsSpreadOverTheReplicasUnderEveryPolicy) {
  Cluster cluster(3);
  ASSERT_TRUE(Ready(cluster, 3));
  // 60 fresh sessions per policy, one call each. With a uniform first pick a
  // replica's count is Binomial(60, 1/3): mean 20, sd 3.65. Bounds 3..42
  // (5 %..70 %) are 4.7 sd and 6 sd out: below 1e-5 for all nine checks
  // together. Sessions that all start on the first replica give 60/0/0.
  // (The 300-session 25..42 % check with fixed seeds is balance_test's
  // OneCommandSessions.)
  for (const std::string& policy : balance::BalancerNames()) {
    std::map<std::string, int> served_by;
    for (int i = 0; i < 60; ++i) {
      auto session = NewSession(cluster, policy);
      ASSERT_NE(session, nullptr);
      auto reply = session->IsPrime(1000 + i);
      ASSERT_TRUE(reply.ok()) << policy << ": " << reply.status().ToString();
      ++served_by[reply->served_by];
    }
    for (auto& r : cluster.replicas()) {
      EXPECT_GE(served_by[r->id()], 3) << policy << " " << r->id();
      EXPECT_LE(served_by[r->id()], 42) << policy << " " << r->id();
    }
  }
}

TEST(Balancing, P2cSendsUnderTenPercentToADelayedReplica) {
  Cluster cluster(2);
  // 10 ms per isPrime: far above loopback latency even on a loaded machine.
  auto& slow = cluster.AddReplica({"--debug-delay-us", "10000"});
  ASSERT_TRUE(Ready(cluster, 3));
  auto session = NewSession(cluster, "p2c");
  ASSERT_NE(session, nullptr);
  std::map<std::string, int> served_by;
  constexpr int kCalls = 300;
  for (int i = 0; i < kCalls; ++i) {
    auto reply = session->IsPrime(1000 + i);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ++served_by[reply->served_by];
  }
  EXPECT_LT(served_by[slow.id()], kCalls / 10) << "slow replica " << slow.id();
  EXPECT_EQ(served_by.size() - (served_by.count(slow.id()) ? 1 : 0), 2u);
}

}  // namespace
}  // namespace beacon
