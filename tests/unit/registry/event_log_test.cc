#include "registry/event_log.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "registry/lease_table.h"
#include "unit/poll_until.h"

namespace beacon::registry {
namespace {

constexpr int64_t kTtlMs = 3000;

InstanceInfo Instance(const std::string& id, int port = 9000) {
  return InstanceInfo{id, "10.0.0.1", port, {}};
}

class EventLogTest : public ::testing::Test {
 protected:
  EventLogTest() : table_(clock_, Options(), 1), log_(clock_, EventLogOptions{}) {
    table_.AddObserver(&log_);
  }
  static LeaseTableOptions Options() {
    LeaseTableOptions o;
    o.ttl_ms = kTtlMs;
    return o;
  }
  Lease MustRegister(const std::string& id, int port = 9000) {
    auto lease = table_.Register("prime", Instance(id, port), "", "");
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    return lease.ok() ? *lease : Lease{};
  }
  std::vector<std::string> Kinds(int64_t after = 0) {
    std::vector<std::string> kinds;
    for (const auto& e : log_.Since(after).first) kinds.push_back(e.kind);
    return kinds;
  }

  FakeClock clock_;
  LeaseTable table_;
  EventLog log_;
};

TEST_F(EventLogTest, RegistrationIsKeptWithItsAddress) {
  MustRegister("a", 9001);
  auto [events, seq] = log_.Since(0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "registered");
  EXPECT_EQ(events[0].service, "prime");
  EXPECT_EQ(events[0].instance_id, "a");
  EXPECT_EQ(events[0].address, "10.0.0.1:9001");
  EXPECT_EQ(events[0].seq, seq);
}

TEST_F(EventLogTest, HeartbeatIsAChangeButNotAnEvent) {
  Lease lease = MustRegister("a");
  const int64_t before = log_.last_seq();
  ASSERT_TRUE(table_.Heartbeat("prime", "a", lease.lease_id, "").ok());
  EXPECT_EQ(log_.last_seq(), before + 1);
  EXPECT_TRUE(log_.Since(before).first.empty());
}

TEST_F(EventLogTest, DeregistrationSaysWhoRemovedIt) {
  Lease lease = MustRegister("a");
  ASSERT_TRUE(table_.Deregister("prime", "a", lease.lease_id, "").ok());
  auto events = log_.Since(0).first;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, "deregistered");
  EXPECT_NE(events[1].reason.find("lease holder"), std::string::npos);
}

TEST_F(EventLogTest, ExpiryGivesTheReasonWithTheSilenceAndHeartbeats) {
  Lease lease = MustRegister("a");
  clock_.AdvanceMillis(1000);
  ASSERT_TRUE(table_.Heartbeat("prime", "a", lease.lease_id, "").ok());
  clock_.AdvanceMillis(kTtlMs);
  table_.SweepExpired();
  auto events = log_.Since(0).first;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, "expired");
  EXPECT_NE(events[1].reason.find("no heartbeat for 3000 ms"), std::string::npos)
      << events[1].reason;
  EXPECT_NE(events[1].reason.find("1 heartbeat since"), std::string::npos)
      << events[1].reason;
}

TEST_F(EventLogTest, RegistrationAfterExpiryReadsRenewedAfterExpiry) {
  MustRegister("a");
  clock_.AdvanceMillis(kTtlMs);
  table_.SweepExpired();
  clock_.AdvanceMillis(250);
  MustRegister("a");
  EXPECT_EQ(Kinds(),
            (std::vector<std::string>{"registered", "expired", "renewed_after_expiry"}));
  EXPECT_NE(log_.Since(0).first.back().reason.find("250 ms"), std::string::npos);
}

TEST_F(EventLogTest, AddressChangeIsAnUpdate) {
  Lease lease = MustRegister("a", 9001);
  ASSERT_TRUE(table_.Register("prime", Instance("a", 9002), lease.lease_id, "").ok());
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"registered", "updated"}));
}

TEST(EventLog, KeepsOnlyTheNewestEvents) {
  FakeClock clock;
  LeaseTableOptions o;
  LeaseTable table(clock, o, 1);
  EventLog log(clock, EventLogOptions{3, 8});
  table.AddObserver(&log);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(table.Register("s", Instance("i" + std::to_string(i)), "", "").ok());
  }
  auto events = log.Since(0).first;
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.front().instance_id, "i2");
  EXPECT_EQ(events.back().instance_id, "i4");
}

TEST_F(EventLogTest, WaitReturnsAtOnceWhenSomethingNewerExists) {
  MustRegister("a");
  EXPECT_EQ(log_.WaitNewerThan(0, clock_.NowMicros() + 1'000'000), 1);
}

TEST_F(EventLogTest, WaitEndsAtItsDeadlineWithNothingNew) {
  int64_t got = -1;
  std::thread waiter([&] { got = log_.WaitNewerThan(0, clock_.NowMicros() + 500'000); });
  ASSERT_TRUE(testing::PollUntil([&] { return clock_.waiter_count() == 1; }));
  clock_.AdvanceMillis(499);
  EXPECT_EQ(got, -1);
  clock_.AdvanceMillis(1);
  waiter.join();
  EXPECT_EQ(got, 0);
}

TEST_F(EventLogTest, WaitWakesOnAChange) {
  int64_t got = -1;
  std::thread waiter(
      [&] { got = log_.WaitNewerThan(0, clock_.NowMicros() + 10'000'000); });
  ASSERT_TRUE(testing::PollUntil([&] { return clock_.waiter_count() == 1; }));
  MustRegister("a");
  waiter.join();
  EXPECT_EQ(got, 1);
}

TEST_F(EventLogTest, ShutdownEndsWaits) {
  std::thread waiter([&] { log_.WaitNewerThan(0, clock_.NowMicros() + 10'000'000); });
  ASSERT_TRUE(testing::PollUntil([&] { return clock_.waiter_count() == 1; }));
  log_.Shutdown();
  waiter.join();
  EXPECT_EQ(log_.WaitNewerThan(0, clock_.NowMicros() + 10'000'000), 0);
}

TEST_F(EventLogTest, DetailCountsHeartbeatsAndKeepsRegisteredSince) {
  const int64_t t0 = clock_.NowMicros();
  Lease lease = MustRegister("a");
  clock_.AdvanceMillis(700);
  ASSERT_TRUE(table_.Heartbeat("prime", "a", lease.lease_id, "").ok());
  ASSERT_TRUE(table_.Heartbeat("prime", "a", lease.lease_id, "").ok());
  TableDetail d = table_.Detail();
  ASSERT_EQ(d.services.size(), 1u);
  ASSERT_EQ(d.services[0].instances.size(), 1u);
  const InstanceDetail& i = d.services[0].instances[0];
  EXPECT_EQ(i.registered_at_micros, t0);
  EXPECT_EQ(i.renewed_at_micros, t0 + 700'000);
  EXPECT_EQ(i.expires_at_micros, t0 + 700'000 + kTtlMs * 1000);
  EXPECT_EQ(i.heartbeats, 2);
  EXPECT_EQ(d.ttl_ms, kTtlMs);
}

TEST_F(EventLogTest, DetailKeepsAnEmptiedServiceWithItsVersion) {
  Lease lease = MustRegister("a");
  ASSERT_TRUE(table_.Deregister("prime", "a", lease.lease_id, "").ok());
  TableDetail d = table_.Detail();
  ASSERT_EQ(d.services.size(), 1u);
  EXPECT_TRUE(d.services[0].instances.empty());
  EXPECT_GT(d.services[0].version, 1);
}

}  // namespace
}  // namespace beacon::registry
