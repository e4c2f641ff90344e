// Every replica is replaced, one at a time, while 8 client sessions call
// prime and vote.
//
// Order per step: start the replacement (a new process on a new port, same
// database), wait until it is registered and serving, then SIGTERM the old
// one. Starting first means at least 3 replicas are live at every moment, so
// a call that loses its connection to the leaving replica always has a
// healthy server to fail over to. (Stopping first would leave 2 for a while
// and restart on the same port, which also works, but proves less about
// capacity.) The old replica's SIGTERM path is the documented one:
// deregister, keep serving for the grace period so clients' watches drop it,
// stop accepting, drain calls in progress, exit 0.
#include <gtest/gtest.h>
#include <signal.h>

#include "cluster_checks.h"
#include "load_run.h"
#include "store_under_test.h"

namespace beacon {
namespace {

using faults::LoadRun;
using faults::Scaled;
using faults::StandardLoad;
using testing::Cluster;
using testing::WaitUntil;

constexpr int kLeaseTtlMs = 1500;

class RollingRestart : public ::testing::TestWithParam<faults::Store> {};

TEST_P(RollingRestart, ReplacingEveryReplicaUnderLoadFailsNoCall) {
  Cluster cluster(0, {"--lease-ttl-ms", std::to_string(kLeaseTtlMs)});
  faults::StoreUnderTest store(GetParam(), cluster);
  if (store.missing()) GTEST_SKIP() << store.error();
  ASSERT_TRUE(store.ok()) << store.error();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(faults::AddReplica(cluster, store.db()).ok());
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  ASSERT_TRUE(cluster.WaitForInstances("prime", 3, faults::Scaled(10000)));
  ASSERT_TRUE(cluster.WaitForInstances("voting", 3, faults::Scaled(10000)));
  const std::vector<std::string> options = {"a", "b", "c", "d"};
  const int64_t poll_id = faults::CreatePoll(*cluster.replicas()[0], "Rolling?", options);
  ASSERT_GT(poll_id, 0);

  LoadRun load(StandardLoad(cluster.registry().port(), poll_id, options));
  ASSERT_TRUE(load.WaitForCalls(400, Scaled(30000))) << load.calls();

  std::vector<std::string> old_ids, new_ids;
  for (int step = 0; step < 3; ++step) {
    auto& old = *cluster.replicas()[static_cast<size_t>(step)];
    old_ids.push_back(old.id());
    auto& replacement = faults::AddReplica(cluster, store.db());
    ASSERT_TRUE(replacement.ok());
    new_ids.push_back(replacement.id());
    ASSERT_TRUE(cluster.WaitForInstances("prime", 4, faults::Scaled(10000)));
    ASSERT_TRUE(cluster.WaitForInstances("voting", 4, faults::Scaled(10000)));
    // Let the sessions' watches bring the newcomer in and use it.
    ASSERT_TRUE(load.WaitForCalls(load.calls() + 300, Scaled(30000)));

    ASSERT_TRUE(old.process().Signal(SIGTERM));
    // Deregistered at once, long before its lease could run out.
    EXPECT_TRUE(WaitUntil(
        [&] {
          return !faults::Lists(cluster, "prime", old.id()) &&
                 !faults::Lists(cluster, "voting", old.id());
        },
        Scaled(kLeaseTtlMs / 2), 10))
        << old.id() << " still listed";
    auto code = old.process().WaitForExit(Scaled(15000));
    ASSERT_TRUE(code.has_value()) << old.id() << " did not exit";
    EXPECT_EQ(*code, 0) << old.process().Log();
    ASSERT_TRUE(cluster.WaitForInstances("prime", 3, faults::Scaled(10000)));
    ASSERT_TRUE(load.WaitForCalls(load.calls() + 300, Scaled(30000)));
    std::printf("[rolling] step %d: %s replaced by %s, %lld calls so far, %lld failed\n",
                step, old_ids.back().c_str(), new_ids.back().c_str(),
                static_cast<long long>(load.calls()),
                static_cast<long long>(load.failures()));
  }
  load.Stop();
  faults::PrintRun("rolling restart", load);

  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.inconsistencies(), 0);
  const auto served = load.served_by();
  for (const auto& id : old_ids) EXPECT_GT(served.count(id) ? served.at(id) : 0, 0) << id;
  for (const auto& id : new_ids) EXPECT_GT(served.count(id) ? served.at(id) : 0, 0) << id;
  EXPECT_TRUE(
      faults::TallyMatchesReceipts(*cluster.replicas().back(), poll_id, load.votes()));
}

INSTANTIATE_TEST_SUITE_P(Stores, RollingRestart,
                         ::testing::Values(faults::Store::kSqlite,
                                           faults::Store::kPostgres),
                         faults::StoreName);

}  // namespace
}  // namespace beacon
