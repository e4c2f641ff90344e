#include "core/clock.h"

#include <algorithm>
#include <cassert>
#include <limits>

namespace beacon {

bool SystemClock::WaitUntil(std::unique_lock<std::mutex>& lock,
                            std::condition_variable& cv, int64_t deadline_micros,
                            const std::function<bool()>& done) const {
  // Clamped so the conversion to steady_clock's nanoseconds cannot overflow.
  constexpr int64_t kLatestMicros = std::numeric_limits<int64_t>::max() / 1000;
  const std::chrono::steady_clock::time_point deadline{
      std::chrono::microseconds(std::min(deadline_micros, kLatestMicros))};
  return cv.wait_until(lock, deadline, done);
}

FakeClock::~FakeClock() {
  MutexLock guard(mu_);
  assert(waiters_.empty());
}

bool FakeClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          int64_t deadline_micros,
                          const std::function<bool()>& done) const {
  Waiter self{lock.mutex(), &cv, std::numeric_limits<int64_t>::min()};
  {
    MutexLock guard(mu_);
    waiters_.push_back(&self);
  }
  bool result = false;
  for (;;) {
    // Read before done(): a time that moves meanwhile is then seen as not
    // yet checked, and AdvanceMicros wakes this waiter again.
    const int64_t now = NowMicros();
    if (done()) {
      result = true;
      break;
    }
    if (now >= deadline_micros) break;
    {
      MutexLock guard(mu_);
      self.checked_at_micros = now;
    }
    waiter_checked_.NotifyAll();
    cv.wait(lock);
  }
  {
    MutexLock guard(mu_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
  }
  waiter_checked_.NotifyAll();
  return result;
}

void FakeClock::AdvanceMicros(int64_t us) {
  MutexLock guard(mu_);
  const int64_t now = now_ += us;
  for (;;) {
    bool all_checked = true;
    for (Waiter* w : waiters_) {
      if (w->checked_at_micros >= now) continue;
      all_checked = false;
      // A waiter takes mu_ while holding its own mutex, so only try it here.
      // Holding it, the waiter is blocked in cv.wait or has not yet read the
      // time, so the notification cannot be lost. If it is busy, retry soon.
      if (w->mutex->try_lock()) {
        w->cv->notify_all();
        w->mutex->unlock();
      }
    }
    if (all_checked) return;
    // mu_ is released while waiting, so waiters can record their check or
    // leave; the timeout only covers a waiter's mutex that was busy.
    waiter_checked_.WaitFor(mu_, std::chrono::milliseconds(1));
  }
}

size_t FakeClock::waiter_count() const {
  MutexLock guard(mu_);
  return waiters_.size();
}

}  // namespace beacon
