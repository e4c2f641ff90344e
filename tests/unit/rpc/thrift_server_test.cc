// ThriftServer's life: start on port 0, stop from any thread, more than once,
// concurrently, with a call in flight, and destruction after Stop. A real
// server on 127.0.0.1 with a Prime handler whose isPrime can be held open.
#include "rpc/thrift_server.h"

#include <gtest/gtest.h>
#include <thrift/protocol/TMultiplexedProtocol.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "Prime.h"
#include "core/mutex.h"
#include "prime_test_server.h"
#include "rpc/channel.h"

namespace beacon::rpc {
namespace {

using std::chrono::milliseconds;

// isPrime waits until Release() (so a test can keep a call in flight); ping
// answers at once.
class HeldPrime : public idl::PrimeIf {
 public:
  void isPrime(idl::PrimeReply& out, int64_t n) override {
    MutexLock lock(mu_);
    ++entered_;
    cv_.NotifyAll();
    cv_.Wait(mu_, [this] {
      mu_.AssertHeld();
      return released_;
    });
    out.n = n;
  }
  void countPrimes(idl::CountReply&, int64_t, int64_t) override {}
  void ping(std::string& out) override { out = "pong"; }

  // Waits (up to 5 s) until `calls` isPrime calls have entered the handler.
  bool WaitForEntered(int calls) {
    MutexLock lock(mu_);
    return cv_.WaitFor(mu_, std::chrono::seconds(5), [&] {
      mu_.AssertHeld();
      return entered_ >= calls;
    });
  }
  void Release() {
    MutexLock lock(mu_);
    released_ = true;
    cv_.NotifyAll();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int entered_ GUARDED_BY(mu_) = 0;
  bool released_ GUARDED_BY(mu_) = false;
};

struct Fixture {
  std::shared_ptr<HeldPrime> handler = std::make_shared<HeldPrime>();
  std::unique_ptr<ThriftServer> server;

  Fixture() {
    auto started = StartPrimeServer(handler);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    if (started.ok()) server = std::move(started).value();
  }
  // Releases any held call so no test leaves a server it cannot stop.
  ~Fixture() { handler->Release(); }

  Endpoint endpoint() const { return Endpoint{"127.0.0.1", server->port()}; }
};

idl::PrimeClient PrimeClientOn(Channel& ch) {
  return idl::PrimeClient(
      std::make_shared<apache::thrift::protocol::TMultiplexedProtocol>(ch.protocol(),
                                                                       "prime"));
}

// True when a ping on a fresh connection is answered.
bool Answers(const Endpoint& ep) {
  auto ch = Channel::Open(ep, ClientOptions{});
  if (!ch.ok()) return false;
  try {
    std::string reply;
    PrimeClientOn(**ch).ping(reply);
    return reply == "pong";
  } catch (const std::exception&) {
    return false;
  }
}

TEST(ThriftServer, StartsOnPortZeroAndAnswersAtOnce) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  EXPECT_GT(f.server->port(), 0);
  EXPECT_TRUE(Answers(f.endpoint()));
}

TEST(ThriftServer, StartOnAPortInUseIsUnavailableNamingTheAddress) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = f.server->port();
  auto second = ThriftServer::Start(
      options, std::make_shared<idl::PrimeProcessorFactory>(
                   std::make_shared<idl::PrimeIfSingletonFactory>(f.handler)));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("cannot listen on 127.0.0.1:" +
                                           std::to_string(f.server->port())),
            std::string::npos)
      << second.status().message();
}

TEST(ThriftServer, StopRefusesNewConnections) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  const Endpoint ep = f.endpoint();
  EXPECT_TRUE(f.server->Stop(5000));
  EXPECT_FALSE(Answers(ep));
}

TEST(ThriftServer, CallInFlightDuringStopFinishesBeforeStopReturns) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  auto ch = Channel::Open(f.endpoint(), ClientOptions{});
  ASSERT_TRUE(ch.ok()) << ch.status().ToString();
  auto call = std::async(std::launch::async, [&] {
    idl::PrimeReply reply;
    PrimeClientOn(**ch).isPrime(reply, 7);
    return reply.n;
  });
  ASSERT_TRUE(f.handler->WaitForEntered(1));

  auto stop = std::async(std::launch::async, [&] { return f.server->Stop(10000); });
  // Stop must wait for the held call rather than return or cut it off.
  EXPECT_EQ(stop.wait_for(milliseconds(200)), std::future_status::timeout);
  f.handler->Release();
  EXPECT_EQ(call.get(), 7);  // the in-flight call got its reply
  EXPECT_TRUE(stop.get());
}

TEST(ThriftServer, StopReportsACallThatOutlastsTheDeadlineAndALaterStopWaitsAgain) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  auto ch = Channel::Open(f.endpoint(), ClientOptions{});
  ASSERT_TRUE(ch.ok());
  auto call = std::async(std::launch::async, [&] {
    idl::PrimeReply reply;
    PrimeClientOn(**ch).isPrime(reply, 11);
    return reply.n;
  });
  ASSERT_TRUE(f.handler->WaitForEntered(1));
  EXPECT_FALSE(f.server->Stop(50));
  f.handler->Release();
  EXPECT_EQ(call.get(), 11);
  EXPECT_TRUE(f.server->Stop(10000));
}

TEST(ThriftServer, StopTwiceReturnsTrueBothTimes) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  EXPECT_TRUE(f.server->Stop(5000));
  EXPECT_TRUE(f.server->Stop(5000));
}

TEST(ThriftServer, StopFromAnotherThread) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  const Endpoint ep = f.endpoint();
  bool stopped = false;
  std::thread other([&] { stopped = f.server->Stop(5000); });
  other.join();
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(Answers(ep));
}

TEST(ThriftServer, ConcurrentStopsFromTwoThreadsBothWaitForTheCallInFlight) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  auto ch = Channel::Open(f.endpoint(), ClientOptions{});
  ASSERT_TRUE(ch.ok());
  auto call = std::async(std::launch::async, [&] {
    idl::PrimeReply reply;
    PrimeClientOn(**ch).isPrime(reply, 13);
    return reply.n;
  });
  ASSERT_TRUE(f.handler->WaitForEntered(1));
  auto first = std::async(std::launch::async, [&] { return f.server->Stop(10000); });
  auto second = std::async(std::launch::async, [&] { return f.server->Stop(10000); });
  EXPECT_EQ(first.wait_for(milliseconds(100)), std::future_status::timeout);
  EXPECT_EQ(second.wait_for(milliseconds(0)), std::future_status::timeout);
  f.handler->Release();
  EXPECT_TRUE(first.get());
  EXPECT_TRUE(second.get());
  EXPECT_EQ(call.get(), 13);
}

TEST(ThriftServer, DestructorAfterStopReturnsPromptly) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  ASSERT_TRUE(f.server->Stop(5000));
  const auto start = std::chrono::steady_clock::now();
  f.server.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST(ThriftServer, DestructorWithoutStopStopsTheServer) {
  Fixture f;
  ASSERT_NE(f.server, nullptr);
  const Endpoint ep = f.endpoint();
  f.server.reset();
  EXPECT_FALSE(Answers(ep));
}

}  // namespace
}  // namespace beacon::rpc
