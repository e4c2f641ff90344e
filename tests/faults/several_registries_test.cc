// Two independent registries, replicas registered with both, clients given
// both: losing one registry (dead or hung) fails no call, new clients still
// find every replica, and with every registry gone a new client_app process
// answers from its snapshot on disk.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "client/session.h"
#include "cluster_checks.h"
#include "load_run.h"
#include "rpc/thrift_registry_client.h"

namespace beacon {
namespace {

using faults::LoadRun;
using faults::MillisSince;
using faults::Scaled;
using faults::StandardLoad;
using testing::ChildProcess;
using testing::RegistryProcess;
using testing::ReplicaProcess;
using testing::TempDir;
using testing::WaitUntil;

constexpr int kLeaseTtlMs = 1500;
// A session's registry call timeout (SessionOptions::registry_timeout_ms).
constexpr int kRegistryTimeoutMs = 2000;

// The instance ids `registry_port` lists for `service` (empty when it does
// not answer within a second).
std::set<std::string> Listed(int registry_port, const std::string& service) {
  rpc::ClientOptions options;
  options.call_timeout_ms = 1000;
  options.connect_timeout_ms = 1000;
  rpc::ThriftRegistryClient client(Endpoint{"127.0.0.1", registry_port}, options);
  std::set<std::string> ids;
  auto m = client.Lookup(service);
  if (m.ok()) {
    for (const auto& i : m->instances) ids.insert(i.id);
  }
  return ids;
}

// What a client_app process printed (stdout and stderr) and its exit code.
struct AppRun {
  int code = -1;
  std::string output;
};

AppRun RunClientApp(const TempDir& dir, const std::vector<std::string>& args) {
  static int runs = 0;
  auto process = ChildProcess::Start(
      BEACON_CLIENT_APP, args, dir.File("client_app" + std::to_string(runs++) + ".log"));
  if (!process) return {};
  const std::optional<int> code = process->WaitForExit(Scaled(30000));
  return {code.value_or(-1), process->Log()};
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// Two registries (short leases) and three replicas registered with both, on
// one SQLite database.
class SeveralRegistries : public ::testing::Test {
 protected:
  void SetUp() override {
    registry1_ = std::make_unique<RegistryProcess>(dir_, registry_flags_, 0, "registry1");
    registry2_ = std::make_unique<RegistryProcess>(dir_, registry_flags_, 0, "registry2");
    ASSERT_TRUE(registry1_->ok() && registry2_->ok());
    registries_ = registry1_->address() + "," + registry2_->address();
  }

  void StartReplicas(int n) {
    for (int i = 0; i < n; ++i) {
      replicas_.push_back(std::make_unique<ReplicaProcess>(
          dir_, "replica" + std::to_string(replicas_.size() + 1), registries_,
          dir_.File("votes.db")));
      ASSERT_TRUE(replicas_.back()->ok());
      ids_.insert(replicas_.back()->id());
    }
  }

  bool BothList(const std::set<std::string>& ids) const {
    return Listed(registry1_->port(), "prime") == ids &&
           Listed(registry1_->port(), "voting") == ids &&
           Listed(registry2_->port(), "prime") == ids &&
           Listed(registry2_->port(), "voting") == ids;
  }

  std::vector<Endpoint> Endpoints() const {
    return {Endpoint{"127.0.0.1", registry1_->port()},
            Endpoint{"127.0.0.1", registry2_->port()}};
  }

  // A load of 8 sessions given both registries, voting on a new poll.
  std::unique_ptr<LoadRun> StartLoad(int64_t* poll_id) {
    const std::vector<std::string> options = {"yes", "no"};
    *poll_id = faults::CreatePoll(*replicas_[0], "Two registries?", options);
    if (*poll_id <= 0) return nullptr;
    return std::make_unique<LoadRun>(StandardLoad(Endpoints(), *poll_id, options));
  }

  TempDir dir_;
  const std::vector<std::string> registry_flags_ = {"--lease-ttl-ms",
                                                    std::to_string(kLeaseTtlMs)};
  std::unique_ptr<RegistryProcess> registry1_, registry2_;
  std::string registries_;
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;
  std::set<std::string> ids_;
};

TEST_F(SeveralRegistries, KillingOneFailsNoCallAndNewClientsFindEveryReplica) {
  StartReplicas(3);
  ASSERT_TRUE(WaitUntil([&] { return BothList(ids_); }, Scaled(10000), 20));
  int64_t poll_id = 0;
  std::unique_ptr<LoadRun> load = StartLoad(&poll_id);
  ASSERT_TRUE(load);
  ASSERT_TRUE(load->WaitForCalls(400, Scaled(30000))) << load->calls();

  ASSERT_TRUE(registry1_->process().Signal(SIGKILL));
  ASSERT_TRUE(registry1_->process().WaitForExit(5000).has_value());
  const int64_t calls_at_kill = load->calls();
  // Longer than two lease TTLs: registry2 lists all three throughout.
  const auto killed_at = std::chrono::steady_clock::now();
  while (MillisSince(killed_at) < 3 * kLeaseTtlMs) {
    ASSERT_EQ(Listed(registry2_->port(), "prime"), ids_);
    ASSERT_EQ(Listed(registry2_->port(), "voting"), ids_);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(load->calls() - calls_at_kill, 200);
  EXPECT_EQ(load->failures(), 0) << "after the kill";

  // New client_app processes, each starting at a random registry, find every
  // replica through the one that is left.
  for (int i = 0; i < 4; ++i) {
    const AppRun run =
        RunClientApp(dir_, {"--registry", registries_, "--cache-dir", "", "servers"});
    EXPECT_EQ(run.code, 0) << run.output;
    for (const std::string& id : ids_) EXPECT_EQ(Count(run.output, id + " "), 2u) << id;
    EXPECT_EQ(Count(run.output, "from registry " + registry2_->address()), 2u)
        << run.output;
  }

  const int64_t calls_after = load->calls();
  EXPECT_TRUE(load->WaitForCalls(calls_after + 400, Scaled(30000))) << load->calls();
  load->Stop();
  faults::PrintRun("one of two registries killed", *load);
  EXPECT_EQ(load->failures(), 0);
  EXPECT_EQ(load->inconsistencies(), 0);
  EXPECT_TRUE(faults::TallyMatchesReceipts(*replicas_[0], poll_id, load->votes()));
}

TEST_F(SeveralRegistries, HungRegistryFailsNoCallAndStallsNoSessionPastItsTimeout) {
  StartReplicas(3);
  ASSERT_TRUE(WaitUntil([&] { return BothList(ids_); }, Scaled(10000), 20));
  int64_t poll_id = 0;
  std::unique_ptr<LoadRun> load = StartLoad(&poll_id);
  ASSERT_TRUE(load);
  ASSERT_TRUE(load->WaitForCalls(400, Scaled(30000))) << load->calls();

  ASSERT_TRUE(registry1_->process().Signal(SIGSTOP));
  const auto stopped_at = std::chrono::steady_clock::now();
  // Sessions started now may begin at the hung registry: their first call
  // waits for one registry timeout at most, then succeeds via registry2.
  int64_t slowest_first_call_ms = 0;
  int sessions_started = 0;
  while (MillisSince(stopped_at) < 5000) {
    client::SessionOptions options;
    options.registries = Endpoints();
    options.registry_timeout_ms = kRegistryTimeoutMs;
    auto session = client::Session::Create(options);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    const auto started = std::chrono::steady_clock::now();
    auto reply = (*session)->IsPrime(97);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    slowest_first_call_ms = std::max(slowest_first_call_ms, MillisSince(started));
    ++sessions_started;
    // The replicas keep their leases on registry2 however long registry1 hangs.
    EXPECT_EQ(Listed(registry2_->port(), "prime"), ids_);
  }
  ASSERT_TRUE(registry1_->process().Signal(SIGCONT));
  std::printf("[registry1 hung 5 s] %d new sessions, slowest first call %lld ms\n",
              sessions_started, static_cast<long long>(slowest_first_call_ms));
  EXPECT_LE(slowest_first_call_ms, kRegistryTimeoutMs + Scaled(1000));
  EXPECT_EQ(Listed(registry2_->port(), "voting"), ids_);
  // Once it answers again, registry1 lists everyone again (leases that
  // expired while it hung are registered anew).
  EXPECT_TRUE(WaitUntil([&] { return BothList(ids_); }, Scaled(10000), 20));

  const int64_t calls_after = load->calls();
  EXPECT_TRUE(load->WaitForCalls(calls_after + 400, Scaled(30000))) << load->calls();
  load->Stop();
  faults::PrintRun("one of two registries hung", *load);
  EXPECT_EQ(load->failures(), 0);
  EXPECT_EQ(load->inconsistencies(), 0);
  EXPECT_LE(load->max_call_ms(), kRegistryTimeoutMs + Scaled(1000));
  EXPECT_TRUE(faults::TallyMatchesReceipts(*replicas_[0], poll_id, load->votes()));
}

TEST_F(SeveralRegistries, WithEveryRegistryDownANewClientAnswersFromItsSnapshot) {
  StartReplicas(3);
  ASSERT_TRUE(WaitUntil([&] { return BothList(ids_); }, Scaled(10000), 20));
  const std::string cache = dir_.File("cache");
  const AppRun first =
      RunClientApp(dir_, {"--registry", registries_, "--cache-dir", cache, "servers"});
  ASSERT_EQ(first.code, 0) << first.output;

  ASSERT_TRUE(registry1_->process().Signal(SIGKILL));
  ASSERT_TRUE(registry2_->process().Signal(SIGKILL));
  ASSERT_TRUE(registry1_->process().WaitForExit(5000).has_value());
  ASSERT_TRUE(registry2_->process().WaitForExit(5000).has_value());

  const AppRun servers =
      RunClientApp(dir_, {"--registry", registries_, "--cache-dir", cache, "servers"});
  EXPECT_EQ(servers.code, 0) << servers.output;
  EXPECT_EQ(Count(servers.output, "STALE from the snapshot on disk"), 2u)
      << servers.output;
  for (const std::string& id : ids_) EXPECT_EQ(Count(servers.output, id + " "), 2u);

  const AppRun prime = RunClientApp(
      dir_, {"--registry", registries_, "--cache-dir", cache, "prime", "97"});
  EXPECT_EQ(prime.code, 0) << prime.output;
  EXPECT_NE(prime.output.find("97 is prime"), std::string::npos) << prime.output;

  // No snapshot: the usual clear error.
  const AppRun none = RunClientApp(dir_, {"--registry", registries_, "--cache-dir",
                                          dir_.File("empty"), "prime", "97"});
  EXPECT_EQ(none.code, 3) << none.output;
  EXPECT_NE(none.output.find("unreachable and no cached servers"), std::string::npos)
      << none.output;

  // A corrupt snapshot: one warning, then the same error, never a crash.
  for (const auto& entry : std::filesystem::directory_iterator(cache)) {
    std::ofstream(entry.path(), std::ios::trunc) << "{\"format\": [1, 2";
  }
  const AppRun corrupt =
      RunClientApp(dir_, {"--registry", registries_, "--cache-dir", cache, "servers"});
  EXPECT_EQ(corrupt.code, 3) << corrupt.output;
  EXPECT_EQ(Count(corrupt.output, "warning: ignoring the server snapshot"), 1u)
      << corrupt.output;
  EXPECT_NE(corrupt.output.find("unreachable and no cached servers"), std::string::npos)
      << corrupt.output;
}

TEST_F(SeveralRegistries, ReplicaStartedWhileOneIsDownRegistersWithEachAsItCanBe) {
  const int port1 = registry1_->port();
  ASSERT_TRUE(registry1_->process().Signal(SIGKILL));
  ASSERT_TRUE(registry1_->process().WaitForExit(5000).has_value());

  const auto started = std::chrono::steady_clock::now();
  StartReplicas(1);
  ASSERT_TRUE(WaitUntil([&] { return Listed(registry2_->port(), "prime") == ids_; },
                        Scaled(10000), 20));
  const int64_t registered_ms = MillisSince(started);
  std::printf("[registry1 down] replica listed by registry2 after %lld ms\n",
              static_cast<long long>(registered_ms));
  EXPECT_LE(registered_ms, Scaled(2000)) << "registry2 waited for registry1";

  // registry1 comes back on its port: the replica's loop for it retries at
  // least every 1.2 s (its backoff cap without a lease), so it is listed
  // within that plus a register round trip.
  registry1_ = std::make_unique<RegistryProcess>(dir_, registry_flags_, port1,
                                                 "registry1-restarted");
  ASSERT_TRUE(registry1_->ok());
  const auto back_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return BothList(ids_); }, Scaled(10000), 20));
  const int64_t back_ms = MillisSince(back_at);
  std::printf("[registry1 back] replica listed by registry1 after %lld ms\n",
              static_cast<long long>(back_ms));
  EXPECT_LE(back_ms, 1200 + Scaled(800));
}

}  // namespace
}  // namespace beacon
