// Beacon's wire set-up (ThriftServer + Channel) in-process on loopback: the
// message-size limit applies per message, not per connection, and a message
// over the limit is refused.
#include <gtest/gtest.h>
#include <thrift/protocol/TMultiplexedProtocol.h>

#include <string>

#include "Prime.h"
#include "prime_test_server.h"
#include "rpc/channel.h"
#include "rpc/thrift_server.h"

namespace beacon::rpc {
namespace {

constexpr int kLimit = 4096;

// ping answers with a string of the requested size (set by the test).
class EchoPrime : public idl::PrimeIf {
 public:
  explicit EchoPrime(size_t reply_bytes) : reply_(reply_bytes, 'x') {}
  void isPrime(idl::PrimeReply& out, int64_t n) override { out.n = n; }
  void countPrimes(idl::CountReply&, int64_t, int64_t) override {}
  void ping(std::string& out) override { out = reply_; }

 private:
  std::string reply_;
};

std::unique_ptr<ThriftServer> StartServer(size_t reply_bytes) {
  auto server = StartPrimeServer(std::make_shared<EchoPrime>(reply_bytes), kLimit);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

idl::PrimeClient Client(Channel& ch) {
  return idl::PrimeClient(
      std::make_shared<apache::thrift::protocol::TMultiplexedProtocol>(ch.protocol(),
                                                                       "prime"));
}

TEST(ThriftTransport, ManyMessagesOnOneConnectionStayWithinThePerMessageLimit) {
  auto server = StartServer(500);
  ASSERT_NE(server, nullptr);
  ClientOptions options;
  options.max_message_bytes = kLimit;
  auto ch = Channel::Open(Endpoint{"127.0.0.1", server->port()}, options);
  ASSERT_TRUE(ch.ok());
  auto client = Client(**ch);
  // 2000 x ~520 bytes read on each side: ~250x the limit over the connection.
  for (int i = 0; i < 2000; ++i) {
    std::string reply;
    ASSERT_NO_THROW(client.ping(reply)) << "call " << i;
    ASSERT_EQ(reply.size(), 500u);
  }
}

TEST(ThriftTransport, AReplyOverTheLimitIsRefusedAsATransportFailure) {
  auto server = StartServer(kLimit * 2);
  ASSERT_NE(server, nullptr);
  ClientOptions options;
  options.max_message_bytes = kLimit;
  auto ch = Channel::Open(Endpoint{"127.0.0.1", server->port()}, options);
  ASSERT_TRUE(ch.ok());
  auto client = Client(**ch);
  auto out =
      InvokeRpc<std::string, idl::PrimeError>(Endpoint{"127.0.0.1", server->port()}, [&] {
        std::string reply;
        client.ping(reply);
        return reply;
      });
  EXPECT_TRUE(out.transport_failure);
  EXPECT_EQ(out.result.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace beacon::rpc
