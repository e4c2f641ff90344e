// One replica, several independent registries: each gets its own loop, a
// hung registry delays none of the others, and Stop tells all of them in
// parallel without waiting past its budget.
#include "registration/registration_set.h"

#include <gtest/gtest.h>

#include <future>

#include "fake_lease_client.h"
#include "support/process.h"

namespace beacon::registration {
namespace {

using beacon::testing::WaitUntil;
using registration::testing::FakeLeaseClient;

constexpr int64_t kTtlMs = 3000;
const InstanceInfo kSelf{"r1", "127.0.0.1", 9100, {}};

TEST(RegistrationSet, RegistersEveryServiceWithEveryRegistry) {
  FakeLeaseClient a(kTtlMs, "127.0.0.1:1"), b(kTtlMs, "127.0.0.1:2");
  FakeClock clock;
  RegistrationSet set({&a, &b}, kSelf, {"prime", "voting"}, clock);
  set.Start();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return set.registered_counts() == std::vector<int>{2, 2};
      },
      2000));
  EXPECT_TRUE(a.holds("prime") && a.holds("voting"));
  EXPECT_TRUE(b.holds("prime") && b.holds("voting"));
}

TEST(RegistrationSet, AHungRegistryDoesNotDelayRegistrationWithTheOthers) {
  FakeLeaseClient hung(kTtlMs, "127.0.0.1:1"), live(kTtlMs, "127.0.0.1:2");
  hung.Hold();
  FakeClock clock;
  RegistrationSet set({&hung, &live}, kSelf, {"prime", "voting"}, clock);
  set.Start();
  EXPECT_TRUE(
      WaitUntil([&] { return live.holds("prime") && live.holds("voting"); }, 2000));
  EXPECT_EQ(set.registered_counts(), (std::vector<int>{0, 2}));
  hung.Release();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return set.registered_counts() == std::vector<int>{2, 2};
      },
      2000));
}

TEST(RegistrationSet, ARegistryThatIsDownDoesNotDelayTheOthers) {
  FakeLeaseClient down(kTtlMs, "127.0.0.1:1"), live(kTtlMs, "127.0.0.1:2");
  down.SetDown(true);
  FakeClock clock;
  RegistrationSet set({&down, &live}, kSelf, {"prime"}, clock);
  set.Start();
  EXPECT_TRUE(WaitUntil([&] { return live.holds("prime"); }, 2000));
  EXPECT_FALSE(down.holds("prime"));
}

TEST(RegistrationSet, StopDeregistersFromEveryRegistryInParallel) {
  FakeLeaseClient a(kTtlMs, "127.0.0.1:1"), b(kTtlMs, "127.0.0.1:2");
  FakeClock clock;
  RegistrationSet set({&a, &b}, kSelf, {"prime"}, clock);
  set.Start();
  ASSERT_TRUE(WaitUntil([&] { return a.holds("prime") && b.holds("prime"); }, 2000));
  a.Hold();
  b.Hold();
  auto stopped = std::async(std::launch::async, [&] { return set.Stop(60000); });
  // Both deregistrations are under way at once: neither waits for the other.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return a.deregisters_in_progress() == 1 && b.deregisters_in_progress() == 1;
      },
      2000));
  a.Release();
  b.Release();
  EXPECT_EQ(stopped.get(), 2u);
  EXPECT_FALSE(a.holds("prime"));
  EXPECT_FALSE(b.holds("prime"));
}

TEST(RegistrationSet, StopWaitsNoLongerThanItsBudgetForAHungRegistry) {
  FakeLeaseClient hung(kTtlMs, "127.0.0.1:1"), live(kTtlMs, "127.0.0.1:2");
  FakeClock clock;
  RegistrationSet set({&hung, &live}, kSelf, {"prime"}, clock);
  set.Start();
  ASSERT_TRUE(
      WaitUntil([&] { return hung.holds("prime") && live.holds("prime"); }, 2000));
  hung.Hold();
  auto stopped = std::async(std::launch::async, [&] { return set.Stop(300); });
  // The loops have left; only Stop waits on the clock, with the live
  // registry told and the hung one still being asked.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return clock.waiter_count() == 1 && !live.holds("prime") &&
               hung.deregisters_in_progress() == 1;
      },
      2000));
  clock.AdvanceMillis(299);
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  clock.AdvanceMillis(1);
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(stopped.get(), 1u);
  hung.Release();  // the destructor waits for the straggler
}

}  // namespace
}  // namespace beacon::registration
