// Channel's read-ahead (channel.cc, ReplySocket): a reply is read with one
// recv when it arrived whole, and still read correctly when it arrives in
// pieces, is larger than the read-ahead buffer, or is followed by bytes the
// server should not have sent (the next call then fails in the transport
// instead of reading them as its reply). The replies pass through a proxy
// that cuts them as each test says.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thrift/protocol/TMultiplexedProtocol.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "Prime.h"
#include "prime_test_server.h"
#include "rpc/channel.h"
#include "rpc/thrift_server.h"

namespace beacon::rpc {
namespace {

constexpr int kLimit = 1 << 20;

class EchoPrime : public idl::PrimeIf {
 public:
  void isPrime(idl::PrimeReply& out, int64_t n) override { out.n = n; }
  void countPrimes(idl::CountReply&, int64_t, int64_t) override {}
  // ping's reply size is set by the test through `size`.
  void ping(std::string& out) override { out.assign(size.load(), 'x'); }
  std::atomic<size_t> size{0};
};

// Reads exactly `len` bytes, or returns false (closed, error, or nothing for
// 5 s: a test never hangs on it).
bool ReadFull(int fd, uint8_t* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    const ssize_t n = ::recv(fd, buf + got, len - got, 0);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

bool ReadFrame(int fd, std::vector<uint8_t>* frame) {
  uint8_t header[4];
  if (!ReadFull(fd, header, 4)) return false;
  uint32_t size = 0;
  std::memcpy(&size, header, 4);
  size = ntohl(size);
  if (size > static_cast<uint32_t>(kLimit)) return false;
  frame->assign(header, header + 4);
  frame->resize(4 + size);
  return ReadFull(fd, frame->data() + 4, size);
}

bool SendAll(int fd, const uint8_t* buf, size_t len) {
  while (len > 0) {
    const ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Forwards one client connection to `server_port`, frame by frame; each
// reply frame goes to the client as `deliver` writes it (with `send` taking
// the bytes to write now). Stops when either side closes, and on destruction.
class FrameProxy {
 public:
  using Send = std::function<bool(const uint8_t*, size_t)>;
  using Deliver = std::function<bool(const std::vector<uint8_t>&, const Send&)>;

  FrameProxy(int server_port, Deliver deliver) : deliver_(std::move(deliver)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    EXPECT_EQ(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, server_port] { Run(server_port); });
  }
  ~FrameProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (client_fd_ >= 0) ::shutdown(client_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  void Run(int server_port) {
    pollfd p{listen_fd_, POLLIN, 0};
    while (!stop_ && ::poll(&p, 1, 50) == 0) {
    }
    if (stop_) return;
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) return;
    client_fd_ = client;
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(server_port));
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      const Send to_client = [client](const uint8_t* b, size_t n) {
        return SendAll(client, b, n);
      };
      std::vector<uint8_t> frame;
      while (!stop_ && ReadFrame(client, &frame) &&
             SendAll(server, frame.data(), frame.size()) && ReadFrame(server, &frame) &&
             deliver_(frame, to_client)) {
      }
    }
    ::close(server);
    ::shutdown(client, SHUT_RDWR);
  }

  Deliver deliver_;
  int listen_fd_ = -1;
  std::atomic<int> client_fd_{-1};
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ReplyReadAhead : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = StartPrimeServer(echo_, kLimit);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  // A channel through a proxy delivering replies with `deliver`.
  std::unique_ptr<Channel> Through(FrameProxy::Deliver deliver) {
    proxy_ = std::make_unique<FrameProxy>(server_->port(), std::move(deliver));
    ClientOptions options;
    options.max_message_bytes = kLimit;
    options.call_timeout_ms = 5000;
    auto ch = Channel::Open(Endpoint{"127.0.0.1", proxy_->port()}, options);
    EXPECT_TRUE(ch.ok()) << ch.status().ToString();
    return ch.ok() ? std::move(ch).value() : nullptr;
  }

  static idl::PrimeClient Client(Channel& ch) {
    return idl::PrimeClient(
        std::make_shared<apache::thrift::protocol::TMultiplexedProtocol>(ch.protocol(),
                                                                         "prime"));
  }

  std::shared_ptr<EchoPrime> echo_ = std::make_shared<EchoPrime>();
  std::unique_ptr<ThriftServer> server_;
  std::unique_ptr<FrameProxy> proxy_;
};

TEST_F(ReplyReadAhead, RepliesOfEverySizeAroundTheBufferAreReadWhole) {
  auto ch = Through([](const std::vector<uint8_t>& f, const FrameProxy::Send& send) {
    return send(f.data(), f.size());
  });
  ASSERT_NE(ch, nullptr);
  auto client = Client(*ch);
  // Payload sizes putting the frame just under, at and over the read-ahead
  // buffer, and far over it; each twice, so leftovers would show.
  const size_t kBuf = 4096;
  for (size_t size : {size_t{0}, size_t{1}, kBuf - 64, kBuf - 40, kBuf - 33, kBuf - 32,
                      kBuf, kBuf + 1, 3 * kBuf + 7, size_t{200000}}) {
    for (int round = 0; round < 2; ++round) {
      echo_->size = size;
      std::string reply;
      ASSERT_NO_THROW(client.ping(reply)) << size;
      ASSERT_EQ(reply, std::string(size, 'x')) << size;
      idl::PrimeReply prime;
      ASSERT_NO_THROW(client.isPrime(prime, static_cast<int64_t>(size) + 11));
      EXPECT_EQ(prime.n, static_cast<int64_t>(size) + 11);
    }
  }
}

TEST_F(ReplyReadAhead, AReplyArrivingInPiecesIsReadWhole) {
  // Cut inside the frame header, then inside the body, with pauses, so the
  // client's reads find part of the reply at a time.
  auto ch = Through([](const std::vector<uint8_t>& f, const FrameProxy::Send& send) {
    const size_t cuts[] = {2, 9, f.size()};
    size_t from = 0;
    for (size_t to : cuts) {
      to = std::min(to, f.size());
      if (to > from && !send(f.data() + from, to - from)) return false;
      from = std::max(from, to);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  });
  ASSERT_NE(ch, nullptr);
  auto client = Client(*ch);
  for (size_t size : {size_t{3}, size_t{5000}}) {
    echo_->size = size;
    std::string reply;
    ASSERT_NO_THROW(client.ping(reply));
    EXPECT_EQ(reply, std::string(size, 'x'));
  }
}

TEST_F(ReplyReadAhead, ABoundedReadThatExpiresLeavesNothingBehind) {
  // Every second reply comes 100 ms late; the first read of each late one is
  // bounded at 10 ms (a hedged call's first wait), expires, and the reply is
  // then read in full. Nothing of the reply before it may be read again.
  std::atomic<int> replies{0};
  auto ch = Through([&](const std::vector<uint8_t>& f, const FrameProxy::Send& send) {
    if (replies++ % 2 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return send(f.data(), f.size());
  });
  ASSERT_NE(ch, nullptr);
  auto client = Client(*ch);
  for (int64_t n = 100; n < 106; n += 2) {
    idl::PrimeReply on_time;
    ASSERT_NO_THROW(client.isPrime(on_time, n));
    EXPECT_EQ(on_time.n, n);
    client.send_isPrime(n + 1);
    ch->ExpectReplyWithin(10'000);
    idl::PrimeReply late;
    EXPECT_THROW(client.recv_isPrime(late),
                 apache::thrift::transport::TTransportException);
    EXPECT_TRUE(ch->TakeReplyExpired());
    ASSERT_NO_THROW(client.recv_isPrime(late));
    EXPECT_EQ(late.n, n + 1);
  }
}

TEST_F(ReplyReadAhead, BytesAfterAReplyFailTheNextCallInTheTransport) {
  // The server "sends" a second copy of every reply right after it: the
  // first call still gets its reply; the next one must not take the stray
  // copy for its answer.
  auto ch = Through([](const std::vector<uint8_t>& f, const FrameProxy::Send& send) {
    std::vector<uint8_t> twice(f);
    twice.insert(twice.end(), f.begin(), f.end());
    return send(twice.data(), twice.size());
  });
  ASSERT_NE(ch, nullptr);
  auto client = Client(*ch);
  echo_->size = 10;
  std::string reply;
  ASSERT_NO_THROW(client.ping(reply));
  EXPECT_EQ(reply, std::string(10, 'x'));
  auto out = InvokeRpc<std::string, idl::PrimeError>(ch->endpoint(), [&] {
    std::string second;
    client.ping(second);
    return second;
  });
  EXPECT_TRUE(out.transport_failure);
  EXPECT_FALSE(out.connection_reusable);
  EXPECT_NE(out.result.status().message().find("more than its reply"), std::string::npos)
      << out.result.status().ToString();
}

}  // namespace
}  // namespace beacon::rpc
