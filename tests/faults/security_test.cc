// Who may register, and how much a misbehaving client can take: the shared
// registration token on the replica side, lease ownership, and the
// registry's limits on instances and watchers.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "Registry.h"
#include "cluster_checks.h"
#include "rpc/channel.h"
#include "rpc/thrift_registry_client.h"

namespace beacon {
namespace {

using faults::MillisSince;
using testing::ChildProcess;
using testing::Cluster;
using testing::ReplicaProcess;
using testing::WaitUntil;

constexpr char kToken[] = "s3cret-registration-token";
constexpr char kWrongToken[] = "not-the-registration-token";
// Long enough for several registration attempts (the replica's first is at
// start, then it retries with a backoff of at most one heartbeat interval).
constexpr int kRefusedForMs = 1500;

bool Listed(const Cluster& cluster, const std::string& id) {
  return faults::Lists(cluster, "prime", id) || faults::Lists(cluster, "voting", id);
}

TEST(RegistrationToken, ReplicasWithoutTheTokenAreRefusedAndNothingLogsTheSecret) {
  Cluster cluster(0, {"--token", kToken, "--lease-ttl-ms", "900"});
  ASSERT_TRUE(cluster.registry().ok());
  ReplicaProcess& anonymous = cluster.AddReplica();
  ReplicaProcess& wrong = cluster.AddReplica({"--token", kWrongToken});
  ReplicaProcess& trusted = cluster.AddReplica({"--token", kToken});
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  // The token from the environment (how containers pass it) works too.
  const std::string env_port_file = cluster.dir().File("from-env.port");
  auto from_env = ChildProcess::Start(
      BEACON_REPLICA_SVC,
      {"--listen", "127.0.0.1:0", "--registry", cluster.registry().address(), "--db",
       cluster.db(), "--port-file", env_port_file, "--log-level", "debug"},
      cluster.dir().File("from-env.log"), {std::string("BEACON_TOKEN=") + kToken});
  ASSERT_NE(from_env, nullptr);
  const int env_port = testing::ReadPortFile(env_port_file, 10000);
  ASSERT_GT(env_port, 0);
  const std::string env_id = "127.0.0.1-" + std::to_string(env_port);

  ASSERT_TRUE(WaitUntil(
      [&] { return Listed(cluster, trusted.id()) && Listed(cluster, env_id); }, 5000));
  EXPECT_TRUE(cluster.WaitForInstances("prime", 2));
  EXPECT_TRUE(cluster.WaitForInstances("voting", 2));
  // The others keep trying and keep being refused.
  const auto start = std::chrono::steady_clock::now();
  while (MillisSince(start) < kRefusedForMs) {
    EXPECT_FALSE(Listed(cluster, anonymous.id()));
    EXPECT_FALSE(Listed(cluster, wrong.id()));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Refused replicas still serve (a registry problem is not theirs to die of),
  // they just attract no traffic.
  EXPECT_TRUE(anonymous.process().Running());
  EXPECT_TRUE(wrong.process().Running());

  const std::string registry_log = cluster.registry().process().Log();
  EXPECT_NE(registry_log.find("refused registerInstance from 127.0.0.1:"),
            std::string::npos)
      << registry_log;
  EXPECT_NE(registry_log.find("permission_denied"), std::string::npos);
  for (const std::string& log :
       {registry_log, anonymous.process().Log(), wrong.process().Log(),
        trusted.process().Log(), from_env->Log()}) {
    EXPECT_EQ(log.find(kToken), std::string::npos) << "the token leaked into a log";
    EXPECT_EQ(log.find(kWrongToken), std::string::npos) << "a token leaked into a log";
  }
  const std::string refused_log = wrong.process().Log();
  EXPECT_NE(refused_log.find("cannot register"), std::string::npos) << refused_log;
  EXPECT_NE(refused_log.find("permission_denied"), std::string::npos) << refused_log;
}

TEST(RegistrationToken, OnlyTheLeaseHolderMayHeartbeatOrDeregisterItsInstance) {
  Cluster cluster(0, {"--token", kToken});
  ASSERT_TRUE(cluster.registry().ok());
  const Endpoint registry{"127.0.0.1", cluster.registry().port()};
  rpc::ThriftRegistryClient owner(registry, rpc::ClientOptions{}, kToken);
  rpc::ThriftRegistryClient insider(registry, rpc::ClientOptions{},
                                    kToken);  // has the token
  rpc::ThriftRegistryClient outsider(registry, rpc::ClientOptions{});

  const InstanceInfo self{"r1", "127.0.0.1", 7001, {}};
  auto lease = owner.Register("prime", self, "");
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  const std::string guessed(32, '0');

  EXPECT_EQ(outsider.Heartbeat("prime", "r1", lease->lease_id).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(outsider.Deregister("prime", "r1", lease->lease_id).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(insider.Heartbeat("prime", "r1", guessed).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(insider.Deregister("prime", "r1", guessed).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(insider.Deregister("prime", "r1", "").code(), StatusCode::kPermissionDenied);
  // Taking the id over from another address is refused while the lease lives.
  const InstanceInfo impostor{"r1", "10.9.9.9", 7001, {}};
  EXPECT_EQ(insider.Register("prime", impostor, "").status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(insider.Register("prime", impostor, guessed).status().code(),
            StatusCode::kAlreadyExists);

  auto m = outsider.Lookup("prime");  // lookups stay open
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->instances.size(), 1u);
  EXPECT_EQ(m->instances[0].host, "127.0.0.1");
  // The owner's lease is intact.
  EXPECT_TRUE(owner.Heartbeat("prime", "r1", lease->lease_id).ok());
  EXPECT_TRUE(owner.Deregister("prime", "r1", lease->lease_id).ok());
  EXPECT_TRUE(outsider.Lookup("prime")->instances.empty());

  const std::string log = cluster.registry().process().Log();
  EXPECT_NE(log.find("refused heartbeat from 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find("refused deregister from 127.0.0.1:"), std::string::npos) << log;
  EXPECT_EQ(log.find(kToken), std::string::npos);
  EXPECT_EQ(log.find(lease->lease_id), std::string::npos) << "a lease id is a credential";
}

TEST(RegistryLimits, InstancesBeyondTheLimitsAreRefusedUntilThereIsRoom) {
  Cluster cluster(0, {"--max-instances-per-service", "2", "--max-instances", "3"});
  ASSERT_TRUE(cluster.registry().ok());
  auto client = cluster.RegistryClient();
  auto instance = [](int n) {
    return InstanceInfo{"r" + std::to_string(n), "127.0.0.1", 7000 + n, {}};
  };
  auto first = client->Register("prime", instance(1), "");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(client->Register("prime", instance(2), "").ok());
  auto per_service = client->Register("prime", instance(3), "");
  EXPECT_EQ(per_service.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(per_service.status().message().find("prime"), std::string::npos)
      << per_service.status().message();
  ASSERT_TRUE(client->Register("voting", instance(4), "").ok());
  auto total = client->Register("other", instance(5), "");
  EXPECT_EQ(total.status().code(), StatusCode::kResourceExhausted)
      << total.status().ToString();
  EXPECT_EQ(client->Lookup("prime")->instances.size(), 2u);
  EXPECT_TRUE(client->Lookup("other")->instances.empty());
  // Refreshing an instance that is already in is not growth.
  EXPECT_TRUE(client->Register("prime", instance(1), first->lease_id).ok());
  // Room again once one leaves.
  ASSERT_TRUE(client->Deregister("prime", "r1", first->lease_id).ok());
  EXPECT_TRUE(client->Register("prime", instance(3), "").ok());
  const std::string log = cluster.registry().process().Log();
  EXPECT_NE(log.find("refused registerInstance from 127.0.0.1:"), std::string::npos)
      << log;
  EXPECT_NE(log.find("resource_exhausted"), std::string::npos) << log;
}

TEST(RegistryLimits, WatchersBeyondTheLimitAreRefusedAtOnce) {
  constexpr int kMaxWatchers = 2;
  Cluster cluster(0, {"--max-watchers", std::to_string(kMaxWatchers)});
  ASSERT_TRUE(cluster.registry().ok());
  const Endpoint registry{"127.0.0.1", cluster.registry().port()};
  const int64_t version = cluster.RegistryClient()->Lookup("prime")->version;
  std::vector<std::future<Result<Membership>>> waiting;
  for (int i = 0; i < kMaxWatchers; ++i) {
    waiting.push_back(std::async(std::launch::async, [&] {
      rpc::ThriftRegistryClient own(registry, rpc::ClientOptions{});
      // Refused only while the probe below holds a slot for its 1 ms.
      for (int attempt = 0; attempt < 500; ++attempt) {
        auto m = own.Watch("prime", version, 10000);
        if (m.status().code() != StatusCode::kResourceExhausted) return m;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return Result<Membership>(Internal("never parked"));
    }));
  }
  // Wait until both are parked in the registry (then the next one is refused).
  rpc::ThriftRegistryClient extra(registry, rpc::ClientOptions{});
  Result<Membership> refused = Unavailable("not tried");
  ASSERT_TRUE(WaitUntil(
      [&] {
        refused = extra.Watch("prime", version, 1);
        return refused.status().code() == StatusCode::kResourceExhausted;
      },
      5000, 20))
      << refused.status().ToString() << " version " << version;
  const auto start = std::chrono::steady_clock::now();
  refused = extra.Watch("prime", version, 3000);
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_LT(MillisSince(start), faults::Scaled(1000))
      << "refused at once, not after waiting";
  // Lookups are unaffected, and a change wakes the parked watchers.
  EXPECT_TRUE(cluster.RegistryClient()->Lookup("prime").ok());
  ASSERT_TRUE(cluster.RegistryClient()
                  ->Register("prime", {"r1", "127.0.0.1", 7001, {}}, "")
                  .ok());
  for (auto& w : waiting) {
    ASSERT_EQ(w.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    auto m = w.get();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->instances.size(), 1u);
  }
  // The slots are free again.
  auto again = extra.Watch("prime", version, 100);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

}  // namespace
}  // namespace beacon
