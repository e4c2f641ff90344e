// CondVar's timed waits say whether the time ran out, so callers can tell a
// wake-up from a deadline without reading the clock again.
#include "core/mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace beacon {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Flag {
  Mutex mu;
  CondVar changed;
  bool set GUARDED_BY(mu) = false;
};

TEST(CondVar, WaitUntilReportsADeadlineThatPassed) {
  Flag flag;
  MutexLock lock(flag.mu);
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(20);
  bool timed_out = false;
  while (!timed_out) timed_out = flag.changed.WaitUntil(flag.mu, deadline);
  EXPECT_GE(SteadyClock::now(), deadline);
}

TEST(CondVar, WaitUntilAPastDeadlineReturnsAtOnce) {
  Flag flag;
  MutexLock lock(flag.mu);
  EXPECT_TRUE(
      flag.changed.WaitUntil(flag.mu, SteadyClock::now() - std::chrono::seconds(1)));
}

TEST(CondVar, WaitUntilReportsANotificationBeforeTheDeadline) {
  Flag flag;
  std::thread setter([&] {
    MutexLock lock(flag.mu);
    flag.set = true;
    flag.changed.NotifyAll();
  });
  {
    MutexLock lock(flag.mu);
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (!flag.set) ASSERT_FALSE(flag.changed.WaitUntil(flag.mu, deadline));
    EXPECT_LT(SteadyClock::now(), deadline);
  }
  setter.join();
}

TEST(CondVar, WaitForReportsATimeoutThatPassed) {
  Flag flag;
  MutexLock lock(flag.mu);
  const auto start = SteadyClock::now();
  bool timed_out = false;
  while (!timed_out)
    timed_out = flag.changed.WaitFor(flag.mu, std::chrono::milliseconds(5));
  EXPECT_GE(SteadyClock::now() - start, std::chrono::milliseconds(5));
}

TEST(CondVar, WaitForReportsANotification) {
  Flag flag;
  std::thread setter([&] {
    MutexLock lock(flag.mu);
    flag.set = true;
    flag.changed.NotifyAll();
  });
  {
    MutexLock lock(flag.mu);
    while (!flag.set)
      ASSERT_FALSE(flag.changed.WaitFor(flag.mu, std::chrono::seconds(30)));
  }
  setter.join();
}

}  // namespace
}  // namespace beacon
