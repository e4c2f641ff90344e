// The replica's registration loop against a fake registry: register at
// start, heartbeat, register again when the lease is lost, back off while the
// registry is down, deregister at stop. The loop waits on a FakeClock that
// the tests move, so no test sleeps; a test waits (polling with a deadline)
// only for the loop thread to act on a move.
#include "registration/registration.h"

#include <gtest/gtest.h>

#include "fake_lease_client.h"
#include "support/process.h"

namespace beacon::registration {
namespace {

using beacon::testing::WaitUntil;
using registration::testing::FakeLeaseClient;

constexpr int64_t kTtlMs = 3000;  // heartbeats every ~1 s (jittered 0.8-1.2x)
// Longer than any wait of the loop (heartbeat interval or backoff, jittered).
constexpr int64_t kPastAnyWaitMs = 2 * kTtlMs;

// Once the loop waits (so its deadline is fixed), moves the clock by `ms`.
// FakeClock::AdvanceMillis returns after the loop has seen the new time.
void AdvanceWhenWaiting(FakeClock& clock, int64_t ms) {
  ASSERT_TRUE(WaitUntil([&] { return clock.waiter_count() == 1; }, 5000));
  clock.AdvanceMillis(ms);
}

const InstanceInfo kSelf{"r1", "127.0.0.1", 9100, {}};

TEST(Registration, RegistersEveryServiceAtStart) {
  FakeLeaseClient registry(kTtlMs);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime", "voting"}, clock);
  reg.Start();
  EXPECT_TRUE(WaitUntil([&] { return reg.registered_count() == 2; }, 2000));
  EXPECT_TRUE(registry.holds("prime"));
  EXPECT_TRUE(registry.holds("voting"));
}

TEST(Registration, HeartbeatsInsteadOfRegisteringAgain) {
  FakeLeaseClient registry(kTtlMs);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime"}, clock);
  reg.Start();
  for (int i = 0; i < 5; ++i) AdvanceWhenWaiting(clock, kPastAnyWaitMs);
  EXPECT_TRUE(WaitUntil([&] { return registry.heartbeats("prime") >= 5; }, 3000));
  EXPECT_EQ(registry.registers("prime"), 1);
}

TEST(Registration, RegistersAgainWhenTheRegistryForgotTheLease) {
  FakeLeaseClient registry(kTtlMs);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime"}, clock);
  reg.Start();
  ASSERT_TRUE(WaitUntil([&] { return registry.holds("prime"); }, 2000));
  registry.ForgetAll();
  AdvanceWhenWaiting(clock, kPastAnyWaitMs);
  EXPECT_TRUE(WaitUntil([&] { return registry.registers("prime") == 2; }, 2000));
  EXPECT_TRUE(WaitUntil([&] { return registry.holds("prime"); }, 2000));
}

TEST(Registration, KeepsTryingWhileTheRegistryIsDownAndRegistersWhenItReturns) {
  FakeLeaseClient registry(kTtlMs);
  registry.SetDown(true);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime"}, clock);
  reg.Start();
  AdvanceWhenWaiting(clock, kPastAnyWaitMs);
  AdvanceWhenWaiting(clock, kPastAnyWaitMs);
  ASSERT_TRUE(WaitUntil([&] { return registry.registers("prime") >= 3; }, 3000));
  EXPECT_EQ(reg.registered_count(), 0);
  registry.SetDown(false);
  AdvanceWhenWaiting(clock, kPastAnyWaitMs);
  EXPECT_TRUE(WaitUntil([&] { return reg.registered_count() == 1; }, 2000));
}

TEST(Registration, HeartbeatsAboutEveryThirdOfTheTtl) {
  FakeLeaseClient registry(kTtlMs);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime"}, clock);
  reg.Start();
  ASSERT_TRUE(WaitUntil([&] { return reg.registered_count() == 1; }, 2000));
  // TTL/3 = 1000 ms, jittered to [800, 1200).
  AdvanceWhenWaiting(clock, 799);
  // Checked in this order, a loop that had woken is caught either way: not
  // waiting yet, or waiting again after its heartbeat.
  EXPECT_EQ(clock.waiter_count(), 1u);
  EXPECT_EQ(registry.heartbeats("prime"), 0);
  clock.AdvanceMillis(401);
  EXPECT_TRUE(WaitUntil([&] { return registry.heartbeats("prime") == 1; }, 2000));
}

TEST(Registration, BacksOffAtLeastAJitteredTenthOfASecondWhileTheRegistryIsDown) {
  FakeLeaseClient registry(kTtlMs);
  registry.SetDown(true);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime"}, clock);
  reg.Start();
  ASSERT_TRUE(WaitUntil([&] { return registry.registers("prime") == 1; }, 2000));
  // The first backoff is 100 ms, jittered to [80, 120).
  AdvanceWhenWaiting(clock, 79);
  EXPECT_EQ(clock.waiter_count(), 1u);  // in this order, as above
  EXPECT_EQ(registry.registers("prime"), 1);
  clock.AdvanceMillis(41);
  EXPECT_TRUE(WaitUntil([&] { return registry.registers("prime") == 2; }, 2000));
}

TEST(Registration, StopDeregistersEveryService) {
  FakeLeaseClient registry(kTtlMs);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime", "voting"}, clock);
  reg.Start();
  ASSERT_TRUE(WaitUntil([&] { return reg.registered_count() == 2; }, 2000));
  reg.Stop();
  EXPECT_FALSE(registry.holds("prime"));
  EXPECT_FALSE(registry.holds("voting"));
  EXPECT_EQ(registry.deregisters("prime"), 1);
  reg.Stop();  // idempotent
  EXPECT_EQ(registry.deregisters("prime"), 1);
}

TEST(Registration, StopWithoutALeaseSendsNothing) {
  FakeLeaseClient registry(kTtlMs);
  registry.SetDown(true);
  FakeClock clock;
  Registration reg(registry, kSelf, {"prime"}, clock);
  reg.Start();
  ASSERT_TRUE(WaitUntil([&] { return registry.registers("prime") >= 1; }, 2000));
  reg.Stop();
  EXPECT_EQ(registry.deregisters("prime"), 0);
}

}  // namespace
}  // namespace beacon::registration
