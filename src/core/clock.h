// Clock: the one way Beacon's core libraries read time and wait for it, so
// tests can inject a FakeClock and check expiry, cool-offs and timed waits
// without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/hot.h"
#include "core/mutex.h"

namespace beacon {

// Monotonic milliseconds/microseconds, and waits measured on them.
// Implementations are safe for concurrent use.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time in microseconds since an arbitrary origin.
  virtual int64_t NowMicros() const = 0;
  int64_t NowMillis() const { return NowMicros() / 1000; }

  // Blocks on `cv` until `done()` holds or this clock reads deadline_micros
  // or later, whichever comes first, and returns done() (false: the deadline
  // passed). Used like std::condition_variable::wait_until: `lock` holds the
  // mutex that guards what done() reads, on entry, whenever done() runs and
  // on return; it is released while blocked. Whoever changes what done()
  // reads notifies `cv`. A deadline already passed still evaluates done().
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         int64_t deadline_micros,
                         const std::function<bool()>& done) const = 0;
};

// The real monotonic clock (std::chrono::steady_clock).
class SystemClock final : public Clock {
 public:
  BEACON_HOT int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 int64_t deadline_micros,
                 const std::function<bool()>& done) const override;
  // A process-wide instance; stateless, so sharing it is safe.
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that moves only when told; a WaitUntil on it returns at its
// deadline only once Advance* has moved the clock there. Safe for concurrent
// use.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_micros = 1'000'000) : now_(start_micros) {}
  // Every WaitUntil must have returned.
  ~FakeClock() override;

  int64_t NowMicros() const override { return now_.load(); }
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 int64_t deadline_micros,
                 const std::function<bool()>& done) const override;

  // Move the clock forward, then return once every thread waiting in
  // WaitUntil has seen the new time: it has returned, or it has checked
  // done() and its deadline again and waits on. So after advancing to just
  // before a deadline a test may assert that the waiter still waits, and
  // after advancing past it that it no longer does. Must not be called while
  // holding a mutex that a waiter waits with.
  void AdvanceMillis(int64_t ms) { AdvanceMicros(ms * 1000); }
  void AdvanceMicros(int64_t us);

  // Threads currently inside WaitUntil. A test polls it to know that a
  // waiter has fixed its deadline before it advances the clock.
  size_t waiter_count() const;

 private:
  struct Waiter {
    std::mutex* mutex;            // the waiter's own lock
    std::condition_variable* cv;  // what it blocks on
    int64_t checked_at_micros;    // clock time of its latest check
  };

  std::atomic<int64_t> now_;
  mutable Mutex mu_;
  mutable CondVar waiter_checked_;  // a waiter checked or left
  mutable std::vector<Waiter*> waiters_ GUARDED_BY(mu_);
};

// Wall-clock milliseconds since the Unix epoch (for timestamps shown to
// people, never for durations).
inline int64_t WallClockMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace beacon
