// EventServer on 127.0.0.1: ordinary calls answered on the loop, a held call
// answered later from another thread or at its deadline while other
// connections are served, oversized frames refused, Stop draining.
#include "rpc/event_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "Registry.h"
#include "core/mutex.h"
#include "rpc/watch_reply.h"

namespace beacon::rpc {
namespace {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TMemoryBuffer;
using apache::thrift::transport::TSocket;

// Answers lookup with version 7; every other method does nothing.
class LookupOnly : public idl::RegistryNull {
 public:
  void lookup(idl::Membership& out, const std::string& service) override {
    out.service_name = service;
    out.version = 7;
  }
};

// The reply to watch call `seqid` carrying `version`.
std::string WatchReply(int32_t seqid, int64_t version) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  TBinaryProtocol protocol(buffer);
  protocol.writeMessageBegin("watch", apache::thrift::protocol::T_REPLY, seqid);
  idl::Registry_watch_result result;
  result.success.version = version;
  result.__isset.success = true;
  result.write(&protocol);
  protocol.writeMessageEnd();
  return buffer->getBufferAsString();
}

int32_t SeqidOf(const std::string& request) {
  std::string copy = request;
  auto buffer = std::make_shared<TMemoryBuffer>(reinterpret_cast<uint8_t*>(copy.data()),
                                                static_cast<uint32_t>(copy.size()));
  TBinaryProtocol protocol(buffer);
  std::string name;
  apache::thrift::protocol::TMessageType type;
  int32_t seqid = 0;
  protocol.readMessageBegin(name, type, seqid);
  return seqid;
}

struct Client {
  std::shared_ptr<TSocket> socket;
  std::shared_ptr<TFramedTransport> transport;
  std::unique_ptr<idl::RegistryClient> registry;

  explicit Client(int port) {
    socket = std::make_shared<TSocket>("127.0.0.1", port);
    socket->setRecvTimeout(10000);
    transport = std::make_shared<TFramedTransport>(socket);
    transport->open();
    registry = std::make_unique<idl::RegistryClient>(
        std::make_shared<TBinaryProtocol>(transport));
  }
};

class EventServerTest : public ::testing::Test {
 protected:
  // `on_watch` decides what happens to each watch call.
  void Start(EventServer::HeldMethod on_watch) {
    EventServerOptions options;
    options.host = "127.0.0.1";
    options.max_message_bytes = 4096;
    auto started = EventServer::Start(
        options,
        [](const std::string&) {
          return std::make_shared<idl::RegistryProcessor>(std::make_shared<LookupOnly>());
        },
        "watch", std::move(on_watch));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
  }
  std::unique_ptr<EventServer> server_;
};

TEST_F(EventServerTest, OrdinaryCallIsAnsweredByTheProcessor) {
  Start([](const std::string&, const std::string&, std::shared_ptr<HeldCall>) {});
  Client client(server_->port());
  idl::Membership m;
  client.registry->lookup(m, "prime");
  EXPECT_EQ(m.version, 7);
  EXPECT_EQ(m.service_name, "prime");
}

TEST_F(EventServerTest, HeldCallIsAnsweredLaterWhileOtherConnectionsAreServed) {
  std::promise<std::pair<int32_t, std::shared_ptr<HeldCall>>> held;
  Start([&](const std::string&, const std::string& request,
            std::shared_ptr<HeldCall> call) {
    held.set_value({SeqidOf(request), call});
  });
  Client watcher(server_->port());
  auto watch = std::async(std::launch::async, [&] {
    idl::Membership m;
    watcher.registry->watch(m, "prime", 1, 60000);
    return m.version;
  });
  auto future = held.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [seqid, call] = future.get();

  Client other(server_->port());
  idl::Membership m;
  other.registry->lookup(m, "prime");  // served while the watch is held
  EXPECT_EQ(m.version, 7);
  EXPECT_EQ(watch.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);

  std::thread([call = call, seqid = seqid] {
    call->Reply(WatchReply(seqid, 42));
  }).join();
  ASSERT_EQ(watch.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(watch.get(), 42);
  // The connection reads requests again after the reply.
  watcher.registry->lookup(m, "prime");
  EXPECT_EQ(m.version, 7);
}

TEST_F(EventServerTest, HeldCallDeadlineRunsOnTheLoopAndOnlyTheFirstReplyCounts) {
  Start(
      [](const std::string&, const std::string& request, std::shared_ptr<HeldCall> call) {
        const int32_t seqid = SeqidOf(request);
        std::weak_ptr<HeldCall> weak = call;
        call->ExpireAfter(50, [weak, seqid] {
          if (auto c = weak.lock()) {
            c->Reply(WatchReply(seqid, 5));
            c->Reply(WatchReply(seqid, 6));  // ignored
          }
        });
      });
  Client client(server_->port());
  const auto t0 = std::chrono::steady_clock::now();
  idl::Membership m;
  client.registry->watch(m, "prime", 1, 50);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(45));
  EXPECT_EQ(m.version, 5);
  client.registry->lookup(m, "prime");  // no second reply is waiting in the stream
  EXPECT_EQ(m.version, 7);
}

// A framed watch call with `seqid`, as a client would send it.
std::string FramedWatchCall(int32_t seqid) {
  return rpc::FramedWatchCall("prime", 1, 60000, seqid);
}

// Reads one frame (length, then message) from `socket`.
std::string ReadFrame(TSocket& socket) {
  uint32_t n = 0;
  socket.read(reinterpret_cast<uint8_t*>(&n), 4);
  std::string message(ntohl(n), '\0');
  uint32_t got = 0;
  while (got < message.size()) {
    const uint32_t k = socket.read(reinterpret_cast<uint8_t*>(message.data()) + got,
                                   static_cast<uint32_t>(message.size()) - got);
    if (k == 0) break;
    got += k;
  }
  return message.substr(0, got);
}

TEST_F(EventServerTest, SharedReplyAnswersEachCallWithItsOwnHeader) {
  // Two held calls answered from one shared tail (the result bytes), each
  // behind the header of its own call: each connection receives exactly the
  // generated reply for its seqid.
  Mutex mu;
  std::vector<std::pair<int32_t, std::shared_ptr<HeldCall>>> held;
  Start([&](const std::string&, const std::string& request,
            std::shared_ptr<HeldCall> call) {
    MutexLock lock(mu);
    held.emplace_back(SeqidOf(request), std::move(call));
  });
  std::vector<std::shared_ptr<TSocket>> sockets;
  for (int32_t seqid : {11, 7000}) {
    auto socket = std::make_shared<TSocket>("127.0.0.1", server_->port());
    socket->setRecvTimeout(10000);
    socket->open();
    const std::string call = FramedWatchCall(seqid);
    socket->write(reinterpret_cast<const uint8_t*>(call.data()),
                  static_cast<uint32_t>(call.size()));
    sockets.push_back(socket);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    {
      MutexLock lock(mu);
      if (held.size() == 2) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const size_t header_size = 17;  // strict binary header of "watch"
  auto tail = std::make_shared<const std::string>(WatchReply(0, 42).substr(header_size));
  {
    MutexLock lock(mu);
    for (auto& [seqid, call] : held) {
      const std::string head = WatchReply(seqid, 42).substr(0, header_size);
      EXPECT_TRUE(call->ReplyShared(head, tail).ok());
    }
  }
  EXPECT_EQ(ReadFrame(*sockets[0]), WatchReply(11, 42));
  EXPECT_EQ(ReadFrame(*sockets[1]), WatchReply(7000, 42));
}

TEST_F(EventServerTest, SharedReplyLargerThanTheSocketTakesArrivesWhole) {
  // 8 MiB does not fit the socket's buffers: sendmsg takes part of it, the
  // loop keeps the rest and writes it as the reader makes room.
  std::promise<std::pair<int32_t, std::shared_ptr<HeldCall>>> held;
  Start([&](const std::string&, const std::string& request,
            std::shared_ptr<HeldCall> call) {
    held.set_value({SeqidOf(request), call});
  });
  auto socket = std::make_shared<TSocket>("127.0.0.1", server_->port());
  socket->setRecvTimeout(10000);
  socket->open();
  const std::string call = FramedWatchCall(5);
  socket->write(reinterpret_cast<const uint8_t*>(call.data()),
                static_cast<uint32_t>(call.size()));
  auto future = held.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [seqid, held_call] = future.get();
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  auto tail = std::make_shared<const std::string>(big);
  ASSERT_TRUE(held_call->ReplyShared("head", tail).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the socket fill
  EXPECT_EQ(ReadFrame(*socket), "head" + big);
}

TEST_F(EventServerTest, SharedReplyRefusesAnOversizedHeadOrNullTail) {
  std::promise<std::pair<int32_t, std::shared_ptr<HeldCall>>> held;
  Start([&](const std::string&, const std::string& request,
            std::shared_ptr<HeldCall> call) {
    held.set_value({SeqidOf(request), call});
  });
  Client client(server_->port());
  auto watch = std::async(std::launch::async, [&] {
    idl::Membership m;
    client.registry->watch(m, "prime", 1, 60000);
    return m.version;
  });
  auto future = held.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [seqid, call] = future.get();
  const std::string too_long(HeldCall::kMaxSharedHead + 1, 'x');
  EXPECT_EQ(call->ReplyShared(too_long, std::make_shared<const std::string>("")).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(call->ReplyShared("", nullptr).code(), StatusCode::kInvalidArgument);
  // Neither counted as the reply: a proper one still goes through.
  call->Reply(WatchReply(seqid, 9));
  ASSERT_EQ(watch.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(watch.get(), 9);
}

TEST_F(EventServerTest, FrameOverTheLimitClosesTheConnection) {
  Start([](const std::string&, const std::string&, std::shared_ptr<HeldCall>) {});
  auto socket = std::make_shared<TSocket>("127.0.0.1", server_->port());
  socket->setRecvTimeout(5000);
  socket->open();
  const uint8_t header[4] = {0, 0, 0x20, 0};  // 8192 bytes > 4096
  socket->write(header, 4);
  uint8_t byte;
  EXPECT_EQ(socket->read(&byte, 1), 0u) << "the server closes instead of reading on";
}

TEST_F(EventServerTest, StopDrainsAndIsIdempotent) {
  Start([](const std::string&, const std::string&, std::shared_ptr<HeldCall>) {});
  {
    Client client(server_->port());
    idl::Membership m;
    client.registry->lookup(m, "prime");
  }
  EXPECT_TRUE(server_->Stop(5000));
  EXPECT_TRUE(server_->Stop(5000));
  EXPECT_EQ(server_->connection_count(), 0u);
}

}  // namespace
}  // namespace beacon::rpc
