// Mutex, MutexLock, CondVar: std::mutex and std::condition_variable with
// Clang thread-safety annotations, so that GUARDED_BY fields are checked by
// the compiler (core/thread_annotations.h). Use them for every mutex that
// guards fields.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/thread_annotations.h"

namespace beacon {

class CondVar;

// A non-recursive mutex. Safe for concurrent use (that is its job).
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Tells the analysis that the mutex is held here (e.g. inside a wait
  // predicate, which the analysis sees as a separate function). No check at
  // run time.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

  // The underlying std::mutex, held on entry and on return, for waits through
  // interfaces that take a std::unique_lock (Clock::WaitUntil): `f` gets a
  // unique_lock owning the held mutex and must leave it locked.
  template <class F>
  decltype(auto) WithUniqueLock(F&& f) REQUIRES(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    struct KeepHeld {
      std::unique_lock<std::mutex>& lock;
      ~KeepHeld() { lock.release(); }
    } keep{lock};
    return f(lock);
  }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// A condition variable used with a Mutex. Safe for concurrent use.
class CondVar {
 public:
  // Releases `mu` while blocked, holds it again on return. Spurious wake-ups
  // happen: wait in a loop or with a predicate.
  void Wait(Mutex& mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Waits until pred() holds (checked with `mu` held). The predicate may
  // start with mu.AssertHeld() to read guarded fields.
  template <class Pred>
  void Wait(Mutex& mu, Pred pred) REQUIRES(mu) {
    while (!pred()) Wait(mu);
  }
  // Waits until notified or `deadline` passes (or spuriously); true when it
  // returned because the deadline passed (check the state either way).
  template <class Clock, class Duration>
  bool WaitUntil(Mutex& mu, std::chrono::time_point<Clock, Duration> deadline)
      REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const bool timed_out = cv_.wait_until(lock, deadline) == std::cv_status::timeout;
    lock.release();
    return timed_out;
  }
  // Waits until notified or `timeout` passes (or spuriously); true when it
  // returned because the timeout passed.
  template <class Rep, class Period>
  bool WaitFor(Mutex& mu, std::chrono::duration<Rep, Period> timeout) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const bool timed_out = cv_.wait_for(lock, timeout) == std::cv_status::timeout;
    lock.release();
    return timed_out;
  }
  // Waits until pred() holds or `timeout` passes; returns pred().
  template <class Rep, class Period, class Pred>
  bool WaitFor(Mutex& mu, std::chrono::duration<Rep, Period> timeout, Pred pred)
      REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const bool done = cv_.wait_for(lock, timeout, pred);
    lock.release();
    return done;
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }
  // For Clock::WaitUntil, which waits on a std::condition_variable.
  std::condition_variable& native() { return cv_; }

 private:
  std::condition_variable cv_;
};

}  // namespace beacon
