// A few thousand watchers waiting on a real registry_svc at once (issue 17):
// one change notifies every one of them, a change of another service wakes
// none, and lookups are answered while they wait. Runs against both servers.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "registry_fixture.h"
#include "rpc/thrift_registry_client.h"
#include "rpc/watch_fleet.h"

namespace beacon {
namespace {

using testing::RegistryProcess;
using testing::TempDir;
using testing::WaitUntil;

constexpr int kWantedWatchers = 3000;

// Raises the open-file limit to its hard limit (the registry child inherits
// it) and returns how many watch connections fit, at most kWantedWatchers.
int WatchersThatFit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  constexpr rlim_t kSpare = 256;  // the registry's and the test's other files
  if (lim.rlim_cur <= kSpare) return 0;
  return static_cast<int>(std::min<rlim_t>(kWantedWatchers, lim.rlim_cur - kSpare));
}

class WatchFanout : public ::testing::TestWithParam<const char*> {};

TEST_P(WatchFanout, EveryWatcherIsNotifiedOnceAndLookupsAreAnsweredMeanwhile) {
  const int watchers = WatchersThatFit();
  if (watchers < 1000) GTEST_SKIP() << "open-file limit too low for 1000 watchers";
  TempDir dir;
  // No heartbeats here: a lease long enough that r1 cannot expire while a
  // loaded machine parks the watchers (with the 3 s default it once did, and
  // its expiry, not the registrations below, woke every watcher).
  RegistryProcess reg(dir, {"--server", GetParam(), "--max-watchers", "10000",
                            "--max-connections", "10000", "--lease-ttl-ms", "600000"});
  ASSERT_TRUE(reg.ok());
  const Endpoint endpoint{"127.0.0.1", reg.port()};
  rpc::ThriftRegistryClient client(endpoint, rpc::ClientOptions{});
  ASSERT_TRUE(
      client.Register("prime", InstanceInfo{"r1", "127.0.0.1", 7001, {}}, "").ok());
  auto before = client.Lookup("prime");
  ASSERT_TRUE(before.ok());

  auto fleet = rpc::WatchFleet::Open(endpoint, watchers);
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  ASSERT_TRUE((*fleet)->SendAll("prime", before->version, 30000).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto stats = client.Stats();
        return stats.ok() && stats->waiting_watchers == watchers;
      },
      30000))
      << "not every watch was parked";

  // Lookups on their own connection while the watchers wait.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, refused{0};
  std::atomic<int64_t> slowest_us{0};
  std::thread looker([&] {
    rpc::ThriftRegistryClient own(endpoint, rpc::ClientOptions{});
    while (!stop) {
      const auto t0 = std::chrono::steady_clock::now();
      auto m = own.Lookup("prime");
      const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - t0)
                             .count();
      if (m.ok()) {
        ++answered;
      } else {
        ++refused;
      }
      slowest_us = std::max<int64_t>(slowest_us, us);
    }
  });
  const bool some_answered = WaitUntil([&] { return answered >= 200; }, 10000);

  // A change of another service wakes none of them.
  auto woken_before = client.Stats();
  ASSERT_TRUE(woken_before.ok());
  ASSERT_TRUE(
      client.Register("voting", InstanceInfo{"v1", "127.0.0.1", 7002, {}}, "").ok());
  auto woken_after = client.Stats();
  ASSERT_TRUE(woken_after.ok());
  EXPECT_EQ(woken_after->watchers_woken, woken_before->watchers_woken);
  EXPECT_EQ(woken_after->waiting_watchers, watchers);

  ASSERT_TRUE(
      client.Register("prime", InstanceInfo{"r2", "127.0.0.1", 7003, {}}, "").ok());
  const rpc::WatchFleet::Replies replies = (*fleet)->Await(20000);
  stop = true;
  looker.join();

  EXPECT_EQ(replies.failed, 0) << replies.first_error;
  int notified = 0;
  for (size_t i = 0; i < replies.version.size(); ++i) {
    if (replies.version[i] > before->version) ++notified;
  }
  EXPECT_EQ(notified, watchers);
  auto after = client.Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->watchers_woken - woken_after->watchers_woken, watchers)
      << "each watcher woken exactly once";
  EXPECT_EQ(after->waiting_watchers, 0);
  EXPECT_TRUE(some_answered);
  EXPECT_EQ(refused.load(), 0);
  EXPECT_LT(slowest_us.load(), 2'000'000) << "a lookup waited behind the watchers";
}

INSTANTIATE_TEST_SUITE_P(Servers, WatchFanout, ::testing::Values("event", "threaded"),
                         [](const auto& param_info) {
                           return std::string(param_info.param);
                         });

}  // namespace
}  // namespace beacon
