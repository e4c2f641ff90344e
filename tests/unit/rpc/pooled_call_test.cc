// PooledCall's copies against a real ThriftServer on 127.0.0.1 port 0: the
// bounded first wait (FinishWithin) that hedging uses instead of a poll.
#include "rpc/pooled_call.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "Prime.h"
#include "core/clock.h"
#include "prime_test_server.h"
#include "rpc/thrift_server.h"

namespace beacon::rpc {
namespace {

// Answers isPrime(n) with n, after reply_delay_ms.
class SlowPrime : public idl::PrimeIf {
 public:
  explicit SlowPrime(std::atomic<int>& reply_delay_ms) : delay_ms_(reply_delay_ms) {}
  void isPrime(idl::PrimeReply& out, int64_t n) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
    out.n = n;
  }
  void countPrimes(idl::CountReply&, int64_t, int64_t) override {}
  void ping(std::string& out) override { out = "pong"; }

 private:
  std::atomic<int>& delay_ms_;
};

class PooledCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = StartPrimeServer(std::make_shared<SlowPrime>(delay_ms_));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
    replica_.id = "r1";
    replica_.host = "127.0.0.1";
    replica_.port = server_->port();
  }

  static auto Send(int64_t n) {
    return [n](ReplicaConnection& c) { c.prime().send_isPrime(n); };
  }
  static void Recv(ReplicaConnection& c, idl::PrimeReply& r) {
    c.prime().recv_isPrime(r);
  }
  using RecvFn = void (*)(ReplicaConnection&, idl::PrimeReply&);

  std::atomic<int> delay_ms_{0};
  std::unique_ptr<ThriftServer> server_;
  InstanceInfo replica_;
  FakeClock clock_;
  ReplicaConnectionPool pool_{PoolOptions{}, clock_};
};

TEST_F(PooledCallTest, ReplyWithinTheBoundIsReadByTheBoundedWait) {
  auto send = Send(7);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send), RecvFn> call(pool_, send,
                                                                            &Recv);
  auto copy = call.Start(replica_, clock_.NowMicros());
  std::optional<client::AttemptOutcome> out = copy->FinishWithin(2'000'000);
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->status.ok()) << out->status.ToString();
  call.Accept(*copy);
  EXPECT_EQ(call.TakeReply().n, 7);
}

TEST_F(PooledCallTest, ExpiredBoundedWaitReadsNothingSoTheReplyIsReadLater) {
  delay_ms_ = 200;
  auto send = Send(11);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send), RecvFn> call(pool_, send,
                                                                            &Recv);
  auto copy = call.Start(replica_, clock_.NowMicros());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(copy->FinishWithin(10'000).has_value()) << "no reply within 10 ms";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150))
      << "the bound, not the reply, ended the wait";

  SocketAttemptWaiter waiter(SystemClock::Instance());
  std::vector<client::Attempt*> copies{copy.get()};
  EXPECT_EQ(waiter.WaitAny(copies, SystemClock::Instance().NowMicros() + 5'000'000), 0);
  const client::AttemptOutcome late = copy->Finish();
  ASSERT_TRUE(late.status.ok()) << late.status.ToString();
  call.Accept(*copy);
  EXPECT_EQ(call.TakeReply().n, 11) << "the whole reply, none of it lost";

  // The connection went back to the pool intact: the next call reuses it.
  delay_ms_ = 0;
  auto send2 = Send(13);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send2), RecvFn> next(pool_, send2,
                                                                             &Recv);
  auto copy2 = next.Start(replica_, clock_.NowMicros());
  std::optional<client::AttemptOutcome> out = copy2->FinishWithin(2'000'000);
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->status.ok()) << out->status.ToString();
  next.Accept(*copy2);
  EXPECT_EQ(next.TakeReply().n, 13);
  EXPECT_EQ(pool_.connections_opened(), 1);
}

TEST_F(PooledCallTest, AfterAnExpiredBoundAPlainFinishWaitsForTheReply) {
  delay_ms_ = 100;
  auto send = Send(17);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send), RecvFn> call(pool_, send,
                                                                            &Recv);
  auto copy = call.Start(replica_, clock_.NowMicros());
  EXPECT_FALSE(copy->FinishWithin(5'000).has_value());
  // The socket still has the short receive timeout: a Finish must not fail
  // after it but wait up to the call timeout.
  const client::AttemptOutcome out = copy->Finish();
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  call.Accept(*copy);
  EXPECT_EQ(call.TakeReply().n, 17);
}

TEST_F(PooledCallTest, BoundOfZeroReturnsAtOnceWithoutReading) {
  delay_ms_ = 0;
  auto send = Send(19);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send), RecvFn> call(pool_, send,
                                                                            &Recv);
  auto copy = call.Start(replica_, clock_.NowMicros());
  EXPECT_FALSE(copy->FinishWithin(0).has_value());
  const client::AttemptOutcome out = copy->Finish();
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
}

// A hedge: two copies in flight to the same server hold two connections of
// its slot; both go back when read, and the next two copies reuse both.
TEST_F(PooledCallTest, TwoCopiesInFlightTakeTwoConnectionsAndGiveBothBack) {
  auto send = Send(23);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send), RecvFn> call(pool_, send,
                                                                            &Recv);
  auto first = call.Start(replica_, clock_.NowMicros());
  auto hedge = call.Start(replica_, clock_.NowMicros());
  EXPECT_NE(static_cast<SocketAttempt&>(*first).socket_fd(),
            static_cast<SocketAttempt&>(*hedge).socket_fd())
      << "copies never share a connection";
  EXPECT_EQ(pool_.connections_opened(), 2);
  ASSERT_TRUE(hedge->Finish().status.ok());
  ASSERT_TRUE(first->Finish().status.ok());  // the abandoned copy, drained later

  auto send2 = Send(29);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send2), RecvFn> next(pool_, send2,
                                                                             &Recv);
  auto a = next.Start(replica_, clock_.NowMicros());
  auto b = next.Start(replica_, clock_.NowMicros());
  ASSERT_TRUE(a->Finish().status.ok());
  ASSERT_TRUE(b->Finish().status.ok());
  next.Accept(*b);
  EXPECT_EQ(next.TakeReply().n, 29);
  EXPECT_EQ(pool_.connections_opened(), 2) << "both idle connections were reused";
}

// An abandoned copy closed before its answer was read (past the call
// timeout, or the session ended) never gives its connection back: a reply
// may still be on the way on it.
TEST_F(PooledCallTest, CopyDestroyedUnreadDoesNotReturnItsConnection) {
  auto send = Send(31);
  PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send), RecvFn> call(pool_, send,
                                                                            &Recv);
  call.Start(replica_, clock_.NowMicros()).reset();  // sent, never read
  auto copy = call.Start(replica_, clock_.NowMicros());
  ASSERT_TRUE(copy->Finish().status.ok());
  call.Accept(*copy);
  EXPECT_EQ(call.TakeReply().n, 31);
  EXPECT_EQ(pool_.connections_opened(), 2)
      << "the unread copy's connection was not reused";
}

// Attempts' memory is recycled (RecycledBlocks): a new copy in a freed
// copy's memory starts clean.
TEST_F(PooledCallTest, CopyMadeInARecycledBlockReadsItsOwnReply) {
  for (int64_t n = 40; n < 46; ++n) {
    auto send = Send(n);
    PooledCall<idl::PrimeReply, idl::PrimeError, decltype(send), RecvFn> call(pool_, send,
                                                                              &Recv);
    auto copy = call.Start(replica_, clock_.NowMicros());
    ASSERT_TRUE(copy->Finish().status.ok());
    call.Accept(*copy);
    EXPECT_EQ(call.TakeReply().n, n);
  }
  EXPECT_EQ(pool_.connections_opened(), 1);
}

}  // namespace
}  // namespace beacon::rpc
