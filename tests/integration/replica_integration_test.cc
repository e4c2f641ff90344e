// Registry + replicas as real processes on loopback, one shared database.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "Prime.h"
#include "Voting.h"
#include "cluster_fixture.h"

namespace beacon {
namespace {

using testing::Cluster;
using testing::RegistryProcess;
using testing::ReplicaProcess;
using testing::TempDir;
using testing::WaitUntil;

TEST(ReplicaService, EveryReplicaAppearsUnderBothServices) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.registry().ok());
  EXPECT_TRUE(cluster.WaitForInstances("prime", 3));
  EXPECT_TRUE(cluster.WaitForInstances("voting", 3));
  auto m = cluster.RegistryClient()->Lookup("voting");
  ASSERT_TRUE(m.ok());
  for (auto& r : cluster.replicas()) {
    bool found = false;
    for (const auto& i : m->instances) found |= i.id == r->id() && i.port == r->port();
    EXPECT_TRUE(found) << r->id();
  }
}

TEST(ReplicaService, RepliesCarryServedBy) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.replicas()[0]->ok());
  auto conn = cluster.replicas()[0]->Connect();
  ASSERT_NE(conn, nullptr);
  idl::PrimeReply reply;
  conn->prime().isPrime(reply, 97);
  EXPECT_TRUE(reply.is_prime);
  EXPECT_EQ(reply.served_by, cluster.replicas()[0]->id());
  idl::CountReply count;
  conn->prime().countPrimes(count, 0, 1000000);
  EXPECT_EQ(count.count, 78498);
}

TEST(ReplicaService, AVoteCastThroughOneReplicaIsSeenThroughTheOthers) {
  Cluster cluster(3);
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  auto a = cluster.replicas()[0]->Connect();
  auto b = cluster.replicas()[1]->Connect();
  auto c = cluster.replicas()[2]->Connect();
  idl::CreatePollReply poll;
  a->voting().createPoll(poll, "Best colour?", {"red", "green"}, "");
  idl::VoteReceipt receipt;
  b->voting().castVote(receipt, poll.poll.poll_id, "alice", "green");
  EXPECT_EQ(receipt.recorded_by, cluster.replicas()[1]->id());
  // Read-your-writes across replicas: the acknowledged vote is visible at once.
  for (auto* conn : {a.get(), b.get(), c.get()}) {
    idl::PollResults results;
    conn->voting().results(results, poll.poll.poll_id);
    EXPECT_EQ(results.total, 1);
    EXPECT_EQ(results.counts[1].votes, 1);
  }
  // The same vote through a third replica returns the original receipt.
  idl::VoteReceipt repeat;
  c->voting().castVote(repeat, poll.poll.poll_id, "alice", "green");
  EXPECT_EQ(repeat.vote_id, receipt.vote_id);
  EXPECT_TRUE(repeat.repeated);
  EXPECT_EQ(repeat.served_by, cluster.replicas()[2]->id());
  // Another option from the same voter is refused with a typed error.
  try {
    idl::VoteReceipt other;
    a->voting().castVote(other, poll.poll.poll_id, "alice", "red");
    FAIL() << "expected ALREADY_VOTED";
  } catch (const idl::VotingError& e) {
    EXPECT_EQ(e.code, idl::ErrorCode::ALREADY_VOTED);
  }
}

TEST(ReplicaService, SigtermDeregistersAtOnceAndExitsZero) {
  Cluster cluster(2, {"--lease-ttl-ms", "60000"});
  ASSERT_TRUE(cluster.WaitForInstances("prime", 2));
  auto& victim = *cluster.replicas()[0];
  ASSERT_TRUE(victim.process().Signal(SIGTERM));
  // Gone long before the (60 s) lease could expire: it deregistered.
  EXPECT_TRUE(cluster.WaitForInstances("prime", 1, 5000));
  EXPECT_TRUE(cluster.WaitForInstances("voting", 1, 5000));
  auto code = victim.process().WaitForExit(10000);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << victim.process().Log();
}

TEST(ReplicaService, SigkillDisappearsAfterTheLeaseTtl) {
  Cluster cluster(2, {"--lease-ttl-ms", "600"});
  ASSERT_TRUE(cluster.WaitForInstances("prime", 2));
  auto& victim = *cluster.replicas()[1];
  ASSERT_TRUE(victim.process().Signal(SIGKILL));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(cluster.WaitForInstances("prime", 1, 5000));
  const auto gone_after = std::chrono::steady_clock::now() - t0;
  // Not deregistered: it took (most of) a lease to go.
  EXPECT_GT(gone_after, std::chrono::milliseconds(150));
  EXPECT_LT(gone_after, std::chrono::milliseconds(600 + 1000));
}

TEST(ReplicaService, ReplicaStartedBeforeTheRegistryRegistersWhenItComesUp) {
  TempDir dir;
  // The registry's port: the one a first start on port 0 reported. That
  // registry is stopped before the replica starts and comes back on it.
  int registry_port = 0;
  {
    RegistryProcess first(dir, {}, 0, "registry-first");
    ASSERT_TRUE(first.ok());
    registry_port = first.port();
    ASSERT_TRUE(first.process().Signal(SIGTERM));
    ASSERT_TRUE(first.process().WaitForExit(10000).has_value());
  }
  ReplicaProcess replica(dir, "early", registry_port, dir.File("votes.db"));
  ASSERT_TRUE(replica.ok());
  // It serves even with no registry.
  auto conn = replica.Connect();
  ASSERT_NE(conn, nullptr);
  idl::PrimeReply reply;
  conn->prime().isPrime(reply, 7);
  EXPECT_TRUE(reply.is_prime);
  RegistryProcess registry(dir, {}, registry_port);
  ASSERT_TRUE(registry.ok());
  rpc::ThriftRegistryClient client(Endpoint{"127.0.0.1", registry_port},
                                   rpc::ClientOptions{});
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto m = client.Lookup("voting");
        return m.ok() && m->instances.size() == 1;
      },
      5000));
}

TEST(ReplicaService, UnusableDatabaseExitsNonZeroAndNeverRegisters) {
  Cluster cluster(0);
  ASSERT_TRUE(cluster.registry().ok());
  // A path under a regular file cannot be created, even by root.
  const std::string blocker = cluster.dir().File("not-a-dir");
  { std::ofstream(blocker) << "x"; }
  auto replica = testing::ChildProcess::Start(
      BEACON_REPLICA_SVC,
      {"--listen", "127.0.0.1:0", "--registry", cluster.registry().address(), "--db",
       blocker + "/votes.db"},
      cluster.dir().File("broken.log"));
  ASSERT_NE(replica, nullptr);
  auto code = replica->WaitForExit(10000);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(replica->Log().find("cannot open database"), std::string::npos)
      << replica->Log();
  EXPECT_TRUE(cluster.RegistryClient()->Lookup("prime")->instances.empty());
}

}  // namespace
}  // namespace beacon
