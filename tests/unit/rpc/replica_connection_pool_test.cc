// ReplicaConnectionPool: reuse, Forget and idle eviction, against a real
// ThriftServer on 127.0.0.1 port 0 and a FakeClock.
#include "rpc/replica_connection_pool.h"

#include <gtest/gtest.h>
#include <thrift/processor/TMultiplexedProcessor.h>

#include <string>

#include "Prime.h"
#include "core/clock.h"
#include "rpc/thrift_server.h"

namespace beacon::rpc {
namespace {

class PongPrime : public idl::PrimeIf {
 public:
  void isPrime(idl::PrimeReply& out, int64_t n) override { out.n = n; }
  void countPrimes(idl::CountReply&, int64_t, int64_t) override {}
  void ping(std::string& out) override { out = "pong"; }
};

std::unique_ptr<ThriftServer> StartReplica() {
  auto mux = std::make_shared<apache::thrift::TMultiplexedProcessor>();
  mux->registerProcessor(
      "prime", std::make_shared<idl::PrimeProcessor>(std::make_shared<PongPrime>()));
  ServerOptions options;
  options.host = "127.0.0.1";
  auto started = ThriftServer::Start(
      options, std::make_shared<apache::thrift::TSingletonProcessorFactory>(mux));
  EXPECT_TRUE(started.ok()) << started.status().ToString();
  return started.ok() ? std::move(started).value() : nullptr;
}

class ReplicaConnectionPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartReplica();
    ASSERT_NE(server_, nullptr);
    replica_ = InstanceInfo{};
    replica_.id = "r1";
    replica_.host = "127.0.0.1";
    replica_.port = server_->port();
  }

  std::unique_ptr<ReplicaConnection> MustAcquire(ReplicaConnectionPool& pool,
                                                 const InstanceInfo& instance) {
    auto conn = pool.Acquire(instance);
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(conn).value() : nullptr;
  }

  static std::string Ping(ReplicaConnection& conn) {
    std::string reply;
    conn.prime().ping(reply);
    return reply;
  }

  PoolOptions options_;
  FakeClock clock_;
  std::unique_ptr<ThriftServer> server_;
  InstanceInfo replica_;
};

TEST_F(ReplicaConnectionPoolTest, ReleasedConnectionIsReused) {
  ReplicaConnectionPool pool(options_, clock_);
  auto conn = MustAcquire(pool, replica_);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(Ping(*conn), "pong");
  ReplicaConnection* first = conn.get();
  pool.Release(replica_, std::move(conn));

  auto again = MustAcquire(pool, replica_);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(Ping(*again), "pong");
  EXPECT_EQ(pool.connections_opened(), 1);
}

TEST_F(ReplicaConnectionPoolTest, ConnectionsInUseAreNotShared) {
  ReplicaConnectionPool pool(options_, clock_);
  auto a = MustAcquire(pool, replica_);
  auto b = MustAcquire(pool, replica_);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a.get(), b.get());
  EXPECT_EQ(pool.connections_opened(), 2);
}

TEST_F(ReplicaConnectionPoolTest, IdleConnectionsBeyondTheLimitAreClosed) {
  options_.max_idle_per_instance = 1;
  ReplicaConnectionPool pool(options_, clock_);
  auto a = MustAcquire(pool, replica_);
  auto b = MustAcquire(pool, replica_);
  pool.Release(replica_, std::move(a));
  pool.Release(replica_, std::move(b));  // over the limit: closed
  auto c = MustAcquire(pool, replica_);
  auto d = MustAcquire(pool, replica_);
  EXPECT_EQ(pool.connections_opened(), 3);
}

TEST_F(ReplicaConnectionPoolTest, ForgetClosesTheInstancesIdleConnections) {
  ReplicaConnectionPool pool(options_, clock_);
  pool.Release(replica_, MustAcquire(pool, replica_));
  pool.Forget("r1");
  auto conn = MustAcquire(pool, replica_);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(Ping(*conn), "pong");
  EXPECT_EQ(pool.connections_opened(), 2);
}

TEST_F(ReplicaConnectionPoolTest, ForgetLeavesOtherInstancesAlone) {
  ReplicaConnectionPool pool(options_, clock_);
  InstanceInfo other = replica_;
  other.id = "r10";  // shares a prefix with r1: must not match it
  pool.Release(other, MustAcquire(pool, other));
  pool.Forget("r1");
  auto conn = MustAcquire(pool, other);
  EXPECT_EQ(pool.connections_opened(), 1);
}

TEST_F(ReplicaConnectionPoolTest, IdleConnectionIsReusedUpToMaxIdleAndReplacedAfter) {
  options_.max_idle_ms = 1000;
  ReplicaConnectionPool pool(options_, clock_);
  pool.Release(replica_, MustAcquire(pool, replica_));
  clock_.AdvanceMillis(1000);  // exactly max_idle_ms: still fresh
  auto conn = MustAcquire(pool, replica_);
  EXPECT_EQ(pool.connections_opened(), 1);
  pool.Release(replica_, std::move(conn));
  clock_.AdvanceMicros(1000 * 1000 + 1);  // just past it: closed, not reused
  conn = MustAcquire(pool, replica_);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(Ping(*conn), "pong");
  EXPECT_EQ(pool.connections_opened(), 2);
}

TEST_F(ReplicaConnectionPoolTest, InstanceAtANewAddressGetsANewConnection) {
  auto second_server = StartReplica();
  ASSERT_NE(second_server, nullptr);
  ReplicaConnectionPool pool(options_, clock_);
  pool.Release(replica_, MustAcquire(pool, replica_));
  InstanceInfo moved = replica_;
  moved.port = second_server->port();
  auto conn = MustAcquire(pool, moved);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->channel().endpoint().port, second_server->port());
  EXPECT_EQ(pool.connections_opened(), 2);
}

TEST_F(ReplicaConnectionPoolTest, UnreachableInstanceIsUnavailable) {
  InstanceInfo gone = replica_;
  ASSERT_TRUE(server_->Stop(5000));  // nothing listens on its port any more
  ReplicaConnectionPool pool(options_, clock_);
  auto conn = pool.Acquire(gone);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(pool.connections_opened(), 0);
}

}  // namespace
}  // namespace beacon::rpc
