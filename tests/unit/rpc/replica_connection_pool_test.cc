// ReplicaConnectionPool: reuse, Forget and idle eviction, against a real
// ThriftServer on 127.0.0.1 port 0 and a FakeClock.
#include "rpc/replica_connection_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "Prime.h"
#include "core/clock.h"
#include "prime_test_server.h"
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
  auto started = StartPrimeServer(std::make_shared<PongPrime>());
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

// A connection's idle time counts from the start of its last call (Acquire's
// reading), not from its release: a long call followed by a pause retires it
// early rather than late, and Release reads no clock.
TEST_F(ReplicaConnectionPoolTest, IdleTimeCountsFromTheStartOfTheLastCall) {
  options_.max_idle_ms = 1000;
  ReplicaConnectionPool pool(options_, clock_);
  ReplicaConnectionPool::Slot& slot = pool.Find(replica_.id);
  auto conn = pool.Acquire(slot, replica_, clock_.NowMicros());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  clock_.AdvanceMillis(600);  // the call takes 600 ms
  pool.Release(slot, std::move(conn).value());
  clock_.AdvanceMillis(400);  // 1000 ms since the call started: still fresh
  conn = pool.Acquire(slot, replica_, clock_.NowMicros());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_EQ(pool.connections_opened(), 1);
  clock_.AdvanceMillis(600);
  pool.Release(slot, std::move(conn).value());
  clock_.AdvanceMillis(401);  // 1001 ms since that call started: replaced
  conn = pool.Acquire(slot, replica_, clock_.NowMicros());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_EQ(Ping(**conn), "pong");
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

// The fast path: a session's call after call takes and gives back the same
// connection through the instance's slot.
TEST_F(ReplicaConnectionPoolTest, SlotGivesBackTheConnectionReleasedToIt) {
  ReplicaConnectionPool pool(options_, clock_);
  ReplicaConnectionPool::Slot& slot = pool.Find("r1");
  EXPECT_EQ(&pool.Find("r1"), &slot) << "one slot per instance id";
  EXPECT_NE(&pool.Find("r10"), &slot);
  auto conn = pool.Acquire(slot, replica_);
  ASSERT_TRUE(conn.ok());
  ReplicaConnection* first = conn->get();
  pool.Release(slot, std::move(conn).value());
  auto again = pool.Acquire(slot, replica_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), first);
  EXPECT_EQ(Ping(**again), "pong");
  EXPECT_EQ(pool.connections_opened(), 1);
}

// A hedged copy and the call it hedged both give their connections back:
// the second goes beyond the slot's first idle connection, up to
// max_idle_per_instance, and both are reused.
TEST_F(ReplicaConnectionPoolTest, SecondIdleConnectionIsKeptAndReused) {
  options_.max_idle_per_instance = 2;
  ReplicaConnectionPool pool(options_, clock_);
  ReplicaConnectionPool::Slot& slot = pool.Find("r1");
  auto a = MustAcquire(pool, replica_);
  auto b = MustAcquire(pool, replica_);
  auto c = MustAcquire(pool, replica_);
  pool.Release(slot, std::move(a));
  pool.Release(slot, std::move(b));
  pool.Release(slot, std::move(c));  // the third: past the limit, closed
  auto d = MustAcquire(pool, replica_);
  auto e = MustAcquire(pool, replica_);
  EXPECT_EQ(pool.connections_opened(), 3);
  auto f = MustAcquire(pool, replica_);
  EXPECT_EQ(pool.connections_opened(), 4);
  EXPECT_EQ(Ping(*d), "pong");
  EXPECT_EQ(Ping(*e), "pong");
}

TEST_F(ReplicaConnectionPoolTest, ForgetClosesTheSlotsFirstAndFurtherIdleConnections) {
  ReplicaConnectionPool pool(options_, clock_);
  ReplicaConnectionPool::Slot& slot = pool.Find("r1");
  auto a = MustAcquire(pool, replica_);
  auto b = MustAcquire(pool, replica_);
  pool.Release(slot, std::move(a));
  pool.Release(slot, std::move(b));
  pool.Forget(slot);
  auto c = MustAcquire(pool, replica_);
  EXPECT_EQ(pool.connections_opened(), 3);
}

TEST_F(ReplicaConnectionPoolTest, NoIdleConnectionIsKeptWithALimitOfZero) {
  options_.max_idle_per_instance = 0;
  ReplicaConnectionPool pool(options_, clock_);
  pool.Release(pool.Find("r1"), MustAcquire(pool, replica_));
  auto conn = MustAcquire(pool, replica_);
  EXPECT_EQ(pool.connections_opened(), 2);
}

// The slot's first idle connection is checked like the others: too old, or
// to an address the id no longer has, it is closed and replaced.
TEST_F(ReplicaConnectionPoolTest, StaleFirstIdleConnectionIsReplaced) {
  options_.max_idle_ms = 1000;
  ReplicaConnectionPool pool(options_, clock_);
  ReplicaConnectionPool::Slot& slot = pool.Find("r1");
  pool.Release(slot, MustAcquire(pool, replica_));
  clock_.AdvanceMicros(1000 * 1000 + 1);
  auto conn = pool.Acquire(slot, replica_);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(pool.connections_opened(), 2);
}

// Slots past the lock-free index (ReplicaConnectionPool::kIndexed) are found
// under the lock, and still one per id.
TEST_F(ReplicaConnectionPoolTest, ManyInstancesEachKeepTheirOwnSlot) {
  ReplicaConnectionPool pool(options_, clock_);
  std::vector<ReplicaConnectionPool::Slot*> slots;
  for (int i = 0; i < 100; ++i) slots.push_back(&pool.Find("r" + std::to_string(i)));
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(&pool.Find("r" + std::to_string(i)), slots[static_cast<size_t>(i)]);
    EXPECT_EQ(slots[static_cast<size_t>(i)]->id(), "r" + std::to_string(i));
  }
}

// Find's index compares a tag of each id (its length and last bytes) before
// the id itself: ids that share both still get a slot each, whichever was
// made first.
TEST_F(ReplicaConnectionPoolTest, IdsWithTheSameLengthAndEndingKeepTheirOwnSlots) {
  ReplicaConnectionPool pool(options_, clock_);
  const std::vector<std::string> ids = {"a-127.0.0.1:9000", "b-127.0.0.1:9000",
                                        "c-127.0.0.1:9000", "ab", "ba"};
  std::vector<ReplicaConnectionPool::Slot*> slots;
  for (const std::string& id : ids) slots.push_back(&pool.Find(id));
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(slots[i]->id(), ids[i]);
    for (size_t j = ids.size(); j-- > 0;) {
      EXPECT_EQ(&pool.Find(ids[j]) == slots[i], i == j) << ids[i] << " / " << ids[j];
    }
  }
}

}  // namespace
}  // namespace beacon::rpc
