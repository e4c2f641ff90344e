// Hostile bytes on the wire, sent with plain TCP sockets to a real registry
// and a real replica: garbage, truncated and oversized frames, another
// protocol, hostile Thrift payloads, and many open silent connections. Each
// server must stay up, keep answering a well-behaved client, close what it
// cannot use, close idle connections after --idle-timeout-ms, and keep its
// memory bounded (VmRSS before/after is printed).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <thread>

#include "Registry.h"
#include "cluster_checks.h"
#include "raw_socket.h"
#include "rpc/channel.h"
#include "rpc/replica_connection_pool.h"

namespace beacon {
namespace {

using faults::CallHeader;
using faults::Frame;
using faults::FrameHeader;
using faults::MillisSince;
using faults::PeakResidentKiB;
using faults::RawSocket;
using faults::ResidentKiB;
using testing::Cluster;

constexpr int kIdleTimeoutMs = 500;
// How long after its idle timeout a server may take to close a connection
// (its receive timeout fires, then the thread unwinds), on a loaded machine.
int CloseSlackMs() { return faults::Scaled(3000); }
constexpr long kMaxGrowthKiB = 64 * 1024;  // 64 MiB
constexpr int kSlowLorisConnections = 200;

// Binary protocol type ids and field headers.
constexpr char kStop = 0;
std::string FieldHeader(char type, int16_t id) {
  return std::string{type, static_cast<char>(id >> 8), static_cast<char>(id & 0xff)};
}
constexpr char kString = 11, kStruct = 12, kMap = 13, kList = 15;

// One server under attack.
struct Target {
  std::string name;
  int port = 0;
  testing::ChildProcess* process = nullptr;
  bool replica = false;  // multiplexed: method names carry "prime:" / "voting:"
};

// A well-behaved call on a fresh connection: its latency in ms, or -1 when
// it failed.
int64_t PingMs(const Target& t, int timeout_ms = 5000) {
  const auto start = std::chrono::steady_clock::now();
  rpc::ClientOptions options;
  options.call_timeout_ms = timeout_ms;
  options.connect_timeout_ms = timeout_ms;
  auto ch = rpc::Channel::Open(Endpoint{"127.0.0.1", t.port}, options);
  if (!ch.ok()) return -1;
  try {
    if (t.replica) {
      rpc::ReplicaConnection conn(std::move(ch).value());
      std::string id;
      conn.prime().ping(id);
      if (id.empty()) return -1;
    } else {
      idl::RegistryClient client((*ch)->protocol());
      client.ping();
    }
  } catch (const std::exception& e) {
    std::printf("  ping %s failed: %s\n", t.name.c_str(), e.what());
    return -1;
  }
  return MillisSince(start);
}

struct Payload {
  std::string name;
  std::string bytes;
  bool half_close = false;  // send end-of-file after the bytes
};

std::vector<Payload> HostilePayloads(const Target& t) {
  std::mt19937 rng(42);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  const std::string lookup = t.replica ? "voting:results" : "lookup";
  const std::string with_string = t.replica ? "voting:castVote" : "lookup";
  const int16_t string_field = t.replica ? 2 : 1;
  // A string field that claims 2 GiB inside a small frame.
  const std::string huge_string = CallHeader(with_string) +
                                  FieldHeader(kString, string_field) +
                                  FrameHeader(0x7ffffff0) + "abc";
  // A container that claims 2^31-1 elements.
  const std::string huge_container =
      t.replica ? CallHeader("voting:createPoll") + FieldHeader(kList, 2) +
                      std::string{kString} + FrameHeader(0x7fffffff) + "abc"
                : CallHeader("registerInstance") + FieldHeader(kStruct, 2) +
                      FieldHeader(kMap, 4) + std::string{kString, kString} +
                      FrameHeader(0x7fffffff) + "abc";
  // 100,000 structs nested in an unknown field (the server skips it by
  // recursion, which must be bounded).
  std::string nested = CallHeader(lookup);
  for (int i = 0; i < 100000; ++i) nested += FieldHeader(kStruct, 99);
  return {
      {"random bytes", noise},
      {"frame of random bytes", Frame(noise.substr(0, 1000))},
      {"empty frame", FrameHeader(0)},
      {"truncated frame then end of file", FrameHeader(1000) + noise.substr(0, 10), true},
      {"truncated frame left open", FrameHeader(1000) + noise.substr(0, 10)},
      {"frame claiming 0x7fffffff bytes", FrameHeader(0x7fffffff) + noise.substr(0, 100)},
      {"frame claiming a negative size", FrameHeader(0xffffffff) + noise.substr(0, 100)},
      {"frame of 1 MiB + 1", FrameHeader((1u << 20) + 1) + std::string(64 * 1024, 'x')},
      {"HTTP GET", "GET / HTTP/1.1\r\nHost: beacon\r\nConnection: keep-alive\r\n\r\n"},
      {"unknown method",
       Frame(CallHeader(t.replica ? "voting:noSuchMethod" : "noSuchMethod") +
             std::string{kStop})},
      {"string claiming 2 GiB", Frame(huge_string)},
      {"container claiming 2^31 elements", Frame(huge_container)},
      {"100,000 nested structs", Frame(nested)},
  };
}

// Sends every hostile payload `rounds` times, each on its own connection,
// checking after each kind that the server closed the connection and still
// answers a well-behaved client.
void Attack(const Target& t, int rounds) {
  for (const auto& p : HostilePayloads(t)) {
    SCOPED_TRACE(t.name + ": " + p.name);
    int64_t slowest_close = 0;
    for (int r = 0; r < rounds; ++r) {
      auto sock = RawSocket::Connect(t.port);
      ASSERT_NE(sock, nullptr);
      const auto sent_at = std::chrono::steady_clock::now();
      sock->Send(p.bytes);  // may fail half-way: the server can close first
      if (p.half_close) sock->ShutdownWrite();
      EXPECT_TRUE(sock->WaitForClose(kIdleTimeoutMs + CloseSlackMs()))
          << "connection left open";
      slowest_close = std::max(slowest_close, MillisSince(sent_at));
    }
    const int64_t ping = PingMs(t);
    std::printf("[%s] %-34s x%d: closed within %4lld ms; ping after: %lld ms\n",
                t.name.c_str(), p.name.c_str(), rounds,
                static_cast<long long>(slowest_close), static_cast<long long>(ping));
    ASSERT_TRUE(t.process->Running()) << t.process->Log();
    EXPECT_GE(ping, 0);
  }
}

// Resident memory now and at its peak (VmHWM), so a transient allocation
// that was freed again still shows.
struct Memory {
  long resident_kib;
  long peak_kib;
};

Memory MemoryOf(const Target& t) {
  return {ResidentKiB(t.process->pid()), PeakResidentKiB(t.process->pid())};
}

void ReportGrowth(const Target& t, const Memory& before, const Memory& after) {
  std::printf(
      "[%s] VmRSS before %ld KiB, after %ld KiB (growth %ld KiB); peak VmHWM %ld -> %ld "
      "KiB\n",
      t.name.c_str(), before.resident_kib, after.resident_kib,
      after.resident_kib - before.resident_kib, before.peak_kib, after.peak_kib);
  ASSERT_GT(before.resident_kib, 0);
  ASSERT_GT(after.resident_kib, 0);
  EXPECT_LT(after.resident_kib - before.resident_kib, kMaxGrowthKiB);
  EXPECT_LT(after.peak_kib - before.resident_kib, kMaxGrowthKiB)
      << "a transient allocation";
}

void HostileBytesLeaveTheServerUpAndBounded(const Target& t) {
  ASSERT_GE(PingMs(t), 0);
  const Memory before = MemoryOf(t);
  Attack(t, 5);
  // Oversized frames in bulk: refused before any allocation, so memory
  // stays flat however many arrive.
  for (int i = 0; i < 300; ++i) {
    auto sock = RawSocket::Connect(t.port);
    ASSERT_NE(sock, nullptr);
    sock->Send(FrameHeader(0x7fffffff) + std::string(1000, 'z'));
    ASSERT_TRUE(sock->WaitForClose(kIdleTimeoutMs + CloseSlackMs()));
  }
  EXPECT_GE(PingMs(t), 0);
  ReportGrowth(t, before, MemoryOf(t));
}

// Opens many connections that never finish a request (most say nothing,
// some send half a frame header), checks that a well-behaved client is
// answered promptly meanwhile, then that the server closes every one of them
// after its idle timeout. Connections that say nothing reach the server only
// after about a second (TCP_DEFER_ACCEPT on Thrift's listening socket), then
// time out like the others.
void SlowLorisIsBoundedAndTimedOut(const Target& t) {
  ASSERT_GE(PingMs(t), 0);
  const Memory before = MemoryOf(t);
  std::vector<std::unique_ptr<RawSocket>> silent;
  const auto opened_at = std::chrono::steady_clock::now();
  for (int i = 0; i < kSlowLorisConnections; ++i) {
    auto sock = RawSocket::Connect(t.port);
    ASSERT_NE(sock, nullptr);
    if (i % 4 == 0) sock->Send(std::string("\x00\x00", 2));
    silent.push_back(std::move(sock));
  }
  int64_t slowest_ping = 0;
  for (int i = 0; i < 10; ++i) {
    const int64_t ms = PingMs(t);
    ASSERT_GE(ms, 0);
    slowest_ping = std::max(slowest_ping, ms);
  }
  const long during = ResidentKiB(t.process->pid());
  int closed = 0;
  for (auto& sock : silent)
    closed += sock->WaitForClose(kIdleTimeoutMs + CloseSlackMs()) ? 1 : 0;
  const int64_t all_closed_ms = MillisSince(opened_at);
  std::printf(
      "[%s] %d silent connections: slowest ping meanwhile %lld ms; %d closed by the "
      "server, the last %lld ms after opening (idle timeout %d ms); VmRSS during %ld "
      "KiB\n",
      t.name.c_str(), kSlowLorisConnections, static_cast<long long>(slowest_ping), closed,
      static_cast<long long>(all_closed_ms), kIdleTimeoutMs, during);
  EXPECT_LT(slowest_ping, faults::Scaled(1000));
  EXPECT_EQ(closed, kSlowLorisConnections);
  EXPECT_LE(all_closed_ms, kIdleTimeoutMs + CloseSlackMs() + 2000);
  EXPECT_TRUE(t.process->Running());
  EXPECT_GE(PingMs(t), 0);
  ReportGrowth(t, before, MemoryOf(t));
}

class BadInput : public ::testing::Test {
 protected:
  BadInput()
      : cluster_(1, {"--idle-timeout-ms", std::to_string(kIdleTimeoutMs)},
                 {"--idle-timeout-ms", std::to_string(kIdleTimeoutMs)}) {}
  void SetUp() override {
    ASSERT_TRUE(cluster_.registry().ok());
    ASSERT_TRUE(cluster_.replicas()[0]->ok());
  }
  Target Registry() {
    return {"registry", cluster_.registry().port(), &cluster_.registry().process(),
            false};
  }
  Target Replica() {
    auto& r = *cluster_.replicas()[0];
    return {"replica", r.port(), &r.process(), true};
  }
  Cluster cluster_;
};

TEST_F(BadInput, RegistrySurvivesHostileBytesWithBoundedMemory) {
  HostileBytesLeaveTheServerUpAndBounded(Registry());
}

TEST_F(BadInput, ReplicaSurvivesHostileBytesWithBoundedMemory) {
  HostileBytesLeaveTheServerUpAndBounded(Replica());
}

TEST_F(BadInput, RegistryAnswersOthersDuringSlowLorisAndClosesTheSilentConnections) {
  SlowLorisIsBoundedAndTimedOut(Registry());
}

TEST_F(BadInput, ReplicaAnswersOthersDuringSlowLorisAndClosesTheSilentConnections) {
  SlowLorisIsBoundedAndTimedOut(Replica());
}

// A connection that made a call and then went quiet is closed after the idle
// timeout, not before.
TEST_F(BadInput, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  for (const Target& t : {Registry(), Replica()}) {
    SCOPED_TRACE(t.name);
    auto sock = RawSocket::Connect(t.port);
    ASSERT_NE(sock, nullptr);
    // A well-formed ping (empty argument struct); the reply is discarded.
    ASSERT_TRUE(sock->Send(Frame(CallHeader(t.replica ? "prime:ping" : "ping") + kStop)));
    const auto quiet_from = std::chrono::steady_clock::now();
    ASSERT_TRUE(sock->WaitForClose(kIdleTimeoutMs + CloseSlackMs()));
    const int64_t ms = MillisSince(quiet_from);
    std::printf("[%s] idle connection closed after %lld ms (idle timeout %d ms)\n",
                t.name.c_str(), static_cast<long long>(ms), kIdleTimeoutMs);
    EXPECT_GE(ms, kIdleTimeoutMs * 9 / 10);
  }
}

// With every connection slot held by clients that started a request and
// went quiet, a newcomer waits in the listen backlog until the idle timeout
// frees a slot: it is served late but served, and the server never holds
// more than its limit. (The holders must send a byte: Thrift's listening
// socket uses TCP_DEFER_ACCEPT, so the kernel keeps connections that say
// nothing away from the server for about a second.)
TEST(ConnectionLimit, NewcomersWaitForAFreedSlotInsteadOfFailing) {
  constexpr int kLimit = 4;
  Cluster cluster(
      0, {"--idle-timeout-ms", "1000", "--max-connections", std::to_string(kLimit)});
  ASSERT_TRUE(cluster.registry().ok());
  const Target t{"registry", cluster.registry().port(), &cluster.registry().process(),
                 false};
  std::vector<std::unique_ptr<RawSocket>> holders;
  for (int i = 0; i < kLimit; ++i) {
    holders.push_back(RawSocket::Connect(t.port));
    ASSERT_NE(holders.back(), nullptr);
    ASSERT_TRUE(holders.back()->Send(std::string("\x00\x00", 2)));  // half a frame header
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(100));  // let the server accept them
  const int64_t ms = PingMs(t, 10000);
  std::printf(
      "[connection limit %d] newcomer answered after %lld ms (idle timeout 1000 ms)\n",
      kLimit, static_cast<long long>(ms));
  ASSERT_GE(ms, 0);
  EXPECT_GE(ms, 500) << "the limit was not applied";
  EXPECT_LE(ms, 1000 + CloseSlackMs());
}

}  // namespace
}  // namespace beacon
