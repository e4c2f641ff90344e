// A replica dies (SIGKILL) while 8 client sessions call prime and vote
// through 3 replicas.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "cluster_checks.h"
#include "load_run.h"
#include "store_under_test.h"

namespace beacon {
namespace {

using faults::LoadRun;
using faults::MillisSince;
using faults::Scaled;
using faults::StandardLoad;
using testing::Cluster;
using testing::WaitUntil;

constexpr int kLeaseTtlMs = 1000;
// Time for the test to notice: its lookup poll (20 ms), a sweep (100 ms) and
// the lookup round trip, with room for a loaded 2-core machine.
constexpr int kNoticeSlackMs = 500;

class ReplicaCrash : public ::testing::TestWithParam<faults::Store> {};

TEST_P(ReplicaCrash, SigkillUnderLoadFailsNoCallAndLosesOrDoublesNoAcknowledgedVote) {
  Cluster cluster(0, {"--lease-ttl-ms", std::to_string(kLeaseTtlMs)});
  faults::StoreUnderTest store(GetParam(), cluster);
  if (store.missing()) GTEST_SKIP() << store.error();
  ASSERT_TRUE(store.ok()) << store.error();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(faults::AddReplica(cluster, store.db()).ok());
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  ASSERT_TRUE(cluster.WaitForInstances("prime", 3, faults::Scaled(10000)));
  ASSERT_TRUE(cluster.WaitForInstances("voting", 3, faults::Scaled(10000)));
  const std::vector<std::string> options = {"red", "green", "blue"};
  const int64_t poll_id = faults::CreatePoll(*cluster.replicas()[0], "Crash?", options);
  ASSERT_GT(poll_id, 0);

  LoadRun load(StandardLoad(cluster.registry().port(), poll_id, options));
  ASSERT_TRUE(load.WaitForCalls(800, Scaled(30000))) << load.calls();

  auto& victim = *cluster.replicas()[1];
  const std::string victim_id = victim.id();
  ASSERT_TRUE(victim.process().Signal(SIGKILL));
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(victim.process().WaitForExit(5000).has_value());

  // Not deregistered (it had no chance): it leaves lookup when its lease runs out.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return !faults::Lists(cluster, "voting", victim_id) &&
               !faults::Lists(cluster, "prime", victim_id);
      },
      kLeaseTtlMs + Scaled(5000), 20));
  const int64_t gone_ms = MillisSince(killed_at);
  std::printf("[crash] %s left lookup %lld ms after SIGKILL (lease ttl %d ms)\n",
              victim_id.c_str(), static_cast<long long>(gone_ms), kLeaseTtlMs);
  EXPECT_LE(gone_ms, kLeaseTtlMs + Scaled(kNoticeSlackMs));

  const int64_t calls_after_kill = load.calls();
  EXPECT_TRUE(load.WaitForCalls(calls_after_kill + 800, Scaled(30000))) << load.calls();
  load.Stop();
  faults::PrintRun("crash", load);

  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.inconsistencies(), 0);
  // The fault really hit the clients: calls went to the victim before it died
  // and some had to fail over.
  EXPECT_GT(load.served_by()[victim_id], 0);
  EXPECT_GT(load.retries(), 0);
  EXPECT_TRUE(
      faults::TallyMatchesReceipts(*cluster.replicas()[0], poll_id, load.votes()));
}

INSTANTIATE_TEST_SUITE_P(Stores, ReplicaCrash,
                         ::testing::Values(faults::Store::kSqlite,
                                           faults::Store::kPostgres),
                         faults::StoreName);

}  // namespace
}  // namespace beacon
