// Clock: the one way Beacon's core libraries read time, so tests can inject a
// FakeClock and check expiry and cool-offs without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace beacon {

// Monotonic milliseconds/microseconds. Implementations are safe for
// concurrent use.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time in microseconds since an arbitrary origin.
  virtual int64_t NowMicros() const = 0;
  int64_t NowMillis() const { return NowMicros() / 1000; }
};

// The real monotonic clock (std::chrono::steady_clock).
class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance; stateless, so sharing it is safe.
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that moves only when told. Safe for concurrent use.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_micros = 1'000'000) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(); }
  void AdvanceMillis(int64_t ms) { now_ += ms * 1000; }
  void AdvanceMicros(int64_t us) { now_ += us; }

 private:
  std::atomic<int64_t> now_;
};

// Wall-clock milliseconds since the Unix epoch (for timestamps shown to
// people, never for durations).
inline int64_t WallClockMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace beacon
