// A replica stopped with SIGSTOP (a GC-like stall, swapping) for 2 s while 8
// client sessions call isPrime through 3 replicas, under every balancing
// policy with hedging at its default (auto): no call fails and none waits for
// the pause, because a call the stopped replica does not answer within the
// hedge delay gets a second copy on another replica. (Votes are left out:
// with SQLite a replica stopped while holding the write lock stops every
// replica's writes, which no client policy avoids; that such a vote is slow
// but not failed, by the session's busy retry, is vote_batch_test's
// SessionVoteOutlastsAStoppedLockHolderByRetryingTheBusyAnswer.)
#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <thread>

#include "balance/balancer.h"
#include "cluster_checks.h"
#include "load_run.h"

namespace beacon {
namespace {

using faults::LoadRun;
using faults::MillisSince;
using faults::Scaled;
using testing::ChildProcess;
using testing::Cluster;

constexpr int kPauseMs = 2000;
// The longest a call may take. The goal (bench/run's paused scenario) is
// 100 ms; a hedged call takes the hedge delay (p99 of the session's latency,
// a few ms) plus one more call, but this test shares 2 cores with the other
// tests ctest runs, so it allows 1 s: still half the pause, which any call
// that waited for the stopped replica would take.
const int kCallBoundMs = Scaled(1000);

// Sends SIGCONT to a process when the scope ends, however the test leaves it,
// so a failed assertion never leaves a stopped replica behind.
class ResumeOnExit {
 public:
  explicit ResumeOnExit(ChildProcess& process) : process_(process) {}
  ~ResumeOnExit() { process_.Signal(SIGCONT); }

 private:
  ChildProcess& process_;
};

class PausedReplica : public ::testing::TestWithParam<std::string> {};

TEST_P(PausedReplica, SigstoppedReplicaMakesNoCallFailOrWaitForThePause) {
  // A lease far longer than the pause: the registry keeps listing the stopped
  // replica, so only the clients' hedging stands between a call and the stall.
  Cluster cluster(3, {"--lease-ttl-ms", "30000"});
  ASSERT_TRUE(cluster.WaitForInstances("prime", 3, Scaled(10000)));
  faults::LoadRunOptions options = faults::StandardLoad(cluster.registry().port(), 0, {});
  options.votes = false;
  options.balancer = GetParam();
  LoadRun load(options);
  ASSERT_TRUE(load.WaitForCalls(2000, Scaled(30000))) << load.calls();

  auto& victim = *cluster.replicas()[2];
  {
    ResumeOnExit resume(victim.process());
    ASSERT_TRUE(victim.process().Signal(SIGSTOP));
    const auto stopped_at = std::chrono::steady_clock::now();
    const int64_t before = load.calls();
    // The stall lasts kPauseMs; meanwhile the load must go on.
    while (MillisSince(stopped_at) < kPauseMs) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GT(load.calls(), before + 100) << "the sessions stalled with the replica";
  }
  const int64_t resumed = load.calls();
  EXPECT_TRUE(load.WaitForCalls(resumed + 1000, Scaled(30000))) << load.calls();
  load.Stop();
  faults::PrintRun("paused " + GetParam(), load);
  std::printf("[paused %s] hedges sent %lld, won %lld, longest call %lld ms\n",
              GetParam().c_str(), static_cast<long long>(load.hedges_sent()),
              static_cast<long long>(load.hedges_won()),
              static_cast<long long>(load.max_call_ms()));

  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.inconsistencies(), 0);
  EXPECT_LE(load.max_call_ms(), kCallBoundMs);
  // The stall really hit the clients: calls were on the replica when it
  // stopped, and hedges answered them.
  EXPECT_GT(load.hedges_won(), 0);
  EXPECT_GT(load.served_by()[victim.id()], 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, PausedReplica,
                         ::testing::ValuesIn(balance::BalancerNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name;
                           for (char c : param.param) name += std::isalnum(c) ? c : '_';
                           return name;
                         });

}  // namespace
}  // namespace beacon
