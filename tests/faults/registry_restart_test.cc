// The registry dies and comes back on the same port while clients call prime
// and vote through 3 replicas.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <thread>

#include "client/session.h"
#include "cluster_checks.h"
#include "load_run.h"

namespace beacon {
namespace {

using faults::LoadRun;
using faults::MillisSince;
using faults::Scaled;
using faults::StandardLoad;
using testing::Cluster;
using testing::RegistryProcess;
using testing::WaitUntil;

constexpr int kLeaseTtlMs = 1500;
// Replicas heartbeat every ttl/3, jittered by up to +20 %; while the registry
// is unreachable their retry backoff is capped at that interval.
constexpr int kHeartbeatIntervalMs = kLeaseTtlMs / 3;
constexpr int kMaxHeartbeatGapMs = kHeartbeatIntervalMs * 6 / 5;
// Two register round trips per replica and the test's 20 ms lookup poll, on
// a loaded 2-core machine.
constexpr int kRegisterSlackMs = 600;
constexpr auto kOutage = std::chrono::seconds(3);

std::set<std::string> Listed(const Cluster& cluster, const std::string& service) {
  std::set<std::string> ids;
  auto m = cluster.RegistryClient()->Lookup(service);
  if (m.ok()) {
    for (const auto& i : m->instances) ids.insert(i.id);
  }
  return ids;
}

TEST(RegistryRestart, ClientsRideOutTheOutageAndReplicasRegisterAgainWithinAHeartbeat) {
  const std::vector<std::string> registry_flags = {"--lease-ttl-ms",
                                                   std::to_string(kLeaseTtlMs)};
  Cluster cluster(3, registry_flags);
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  ASSERT_TRUE(cluster.WaitForInstances("prime", 3, faults::Scaled(10000)));
  ASSERT_TRUE(cluster.WaitForInstances("voting", 3, faults::Scaled(10000)));
  std::set<std::string> replica_ids;
  for (auto& r : cluster.replicas()) replica_ids.insert(r->id());
  const std::vector<std::string> options = {"yes", "no"};
  const int64_t poll_id = faults::CreatePoll(*cluster.replicas()[0], "Restart?", options);
  ASSERT_GT(poll_id, 0);

  LoadRun load(StandardLoad(cluster.registry().port(), poll_id, options));
  ASSERT_TRUE(load.WaitForCalls(400, Scaled(30000))) << load.calls();

  const int port = cluster.registry().port();
  ASSERT_TRUE(cluster.registry().process().Signal(SIGKILL));
  ASSERT_TRUE(cluster.registry().process().WaitForExit(5000).has_value());
  const int64_t calls_at_kill = load.calls();
  std::this_thread::sleep_for(
      kOutage);  // the outage itself: clients live on their caches
  const int64_t calls_in_outage = load.calls() - calls_at_kill;
  std::printf("[registry down] %lld calls in %lld ms, %lld failed\n",
              static_cast<long long>(calls_in_outage),
              static_cast<long long>(std::chrono::milliseconds(kOutage).count()),
              static_cast<long long>(load.failures()));
  EXPECT_EQ(load.failures(), 0) << "during the outage";
  EXPECT_GT(calls_in_outage, 200);

  RegistryProcess restarted(cluster.dir(), registry_flags, port, "registry-restarted");
  ASSERT_TRUE(restarted.ok());
  const auto restarted_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Listed(cluster, "prime") == replica_ids &&
               Listed(cluster, "voting") == replica_ids;
      },
      Scaled(10000), 20));
  const int64_t registered_ms = MillisSince(restarted_at);
  std::printf(
      "[registry restarted] all 3 replicas registered again after %lld ms "
      "(heartbeat interval %d ms)\n",
      static_cast<long long>(registered_ms), kHeartbeatIntervalMs);
  EXPECT_LE(registered_ms, kMaxHeartbeatGapMs + Scaled(kRegisterSlackMs));

  // A client that starts now finds every replica and can reach each.
  client::SessionOptions fresh_options;
  fresh_options.registries = {Endpoint{"127.0.0.1", port}};
  // Hedging off: nine round-robin calls reach each replica three times only
  // if no slow copy sends a hedge elsewhere (a loaded machine).
  fresh_options.hedge.mode = client::HedgeMode::kOff;
  auto fresh = client::Session::Create(fresh_options);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  std::set<std::string> answered;
  for (int i = 0; i < 9; ++i) {
    auto reply = (*fresh)->IsPrime(97);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    answered.insert(reply->served_by);
  }
  EXPECT_EQ(answered, replica_ids);

  const int64_t calls_after = load.calls();
  EXPECT_TRUE(load.WaitForCalls(calls_after + 400, Scaled(30000))) << load.calls();
  load.Stop();
  faults::PrintRun("registry restart", load);
  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.inconsistencies(), 0);
  EXPECT_TRUE(
      faults::TallyMatchesReceipts(*cluster.replicas()[0], poll_id, load.votes()));
}

// A registry that restarts at once answers the clients' next watch or lookup
// before the replicas have registered again: for up to a heartbeat interval
// it knows no instance at all. Clients must keep their servers through that
// window, however many times it happens.
TEST(RegistryRestart, QuickRestartsDoNotEmptyTheClientsServerLists) {
  constexpr int kRestarts = 5;
  const std::vector<std::string> registry_flags = {"--lease-ttl-ms",
                                                   std::to_string(kLeaseTtlMs)};
  Cluster cluster(3, registry_flags);
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  ASSERT_TRUE(cluster.WaitForInstances("prime", 3, faults::Scaled(10000)));
  ASSERT_TRUE(cluster.WaitForInstances("voting", 3, faults::Scaled(10000)));
  const std::vector<std::string> options = {"yes", "no"};
  const int64_t poll_id = faults::CreatePoll(*cluster.replicas()[0], "Again?", options);
  ASSERT_GT(poll_id, 0);

  LoadRun load(StandardLoad(cluster.registry().port(), poll_id, options));
  ASSERT_TRUE(load.WaitForCalls(400, Scaled(30000))) << load.calls();

  const int port = cluster.registry().port();
  testing::ChildProcess* current = &cluster.registry().process();
  std::vector<std::unique_ptr<RegistryProcess>> restarted;
  for (int i = 0; i < kRestarts; ++i) {
    ASSERT_TRUE(current->Signal(SIGKILL));
    ASSERT_TRUE(current->WaitForExit(5000).has_value());
    restarted.push_back(std::make_unique<RegistryProcess>(
        cluster.dir(), registry_flags, port, "registry-quick" + std::to_string(i)));
    ASSERT_TRUE(restarted.back()->ok());
    current = &restarted.back()->process();
    ASSERT_TRUE(cluster.WaitForInstances("prime", 3, Scaled(10000)));
    ASSERT_TRUE(cluster.WaitForInstances("voting", 3, Scaled(10000)));
    ASSERT_TRUE(load.WaitForCalls(load.calls() + 200, Scaled(30000)));
    std::printf("[quick restart %d] %lld calls so far, %lld failed\n", i,
                static_cast<long long>(load.calls()),
                static_cast<long long>(load.failures()));
  }
  load.Stop();
  faults::PrintRun("quick registry restarts", load);
  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.inconsistencies(), 0);
  EXPECT_TRUE(
      faults::TallyMatchesReceipts(*cluster.replicas()[0], poll_id, load.votes()));
}

}  // namespace
}  // namespace beacon
