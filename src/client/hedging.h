// Hedging: when a call's first copy has not answered within the hedge delay,
// the session sends a second copy to another server and takes whichever
// answers first (client/failover.h runs it). This file holds the two policies
// that decide when: HedgeDelay (how long to wait: fixed, or following the
// session's observed latency) and HedgeBudget (how many hedges a session may
// send: a token bucket, so a slow cluster is not doubled in load).
// Safe only because every Beacon call is idempotent.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/hot.h"
#include "core/status.h"

namespace beacon::client {

enum class HedgeMode {
  kOff,    // never hedge
  kFixed,  // hedge after fixed_delay_us
  kAuto,   // hedge after a delay that follows the observed latency (HedgeDelay)
};

struct HedgeOptions {
  HedgeMode mode = HedgeMode::kAuto;
  int64_t fixed_delay_us = 0;  // kFixed only; > 0
  // Long-run hedges per call (gRPC's hedging throttle, Finagle's retry
  // budget): each call deposits this many tokens, each hedge takes one.
  double budget_ratio = 0.1;
  // Tokens the bucket holds (and starts with): hedges that may go out in a
  // burst, e.g. when a replica stalls, before the ratio applies.
  double budget_burst = 10;
};

// Parses --hedge-ms: "off", "auto", or a delay in milliseconds 1..60000.
// kInvalidArgument naming the flag otherwise.
Result<HedgeOptions> ParseHedgeMs(const std::string& text);

// "off", "auto" or "N ms", as reports show it.
std::string HedgeName(const HedgeOptions& options);

// The hedge delay of one service in one session. kFixed: the fixed delay.
// kAuto: the 99th percentile of the latest kWindow answered copies, never
// below kFloorUs; kColdUs until kMinSamples answers are seen. Why p99 and not
// p95: with healthy replicas a delay at pN hedges about (100-N) % of calls, and
// the goal is at most 2 % extra calls; p99 of a 512-call window is
// recomputed every 128 calls (a quarter window), so it follows a change in
// load within about a hundred calls; recomputing every 32 cost 150
// instructions a call, a tenth of hedging's whole cost on the healthy path.
// The floor keeps scheduler noise on a busy machine (wake-ups of 0.1-1 ms)
// from becoming hedges. Not thread-safe (one per session and service).
class HedgeDelay {
 public:
  static constexpr size_t kWindow = 512;
  static constexpr size_t kMinSamples = 32;
  static constexpr size_t kRecomputeEvery = 128;
  static constexpr int64_t kFloorUs = 1000;
  // Before kMinSamples answers the session knows nothing of the latency:
  // far above any healthy loopback call even on a loaded machine (10 ms was
  // not: short sessions on a busy machine or a containerised PostgreSQL
  // hedged often), yet a stalled replica costs a new session 100 ms, not
  // its call timeout.
  static constexpr int64_t kColdUs = 100000;
  static constexpr int64_t kCeilingUs = 1000000;  // a hedge within 1 s at worst

  explicit HedgeDelay(const HedgeOptions& options);

  // The latency of a copy that answered (reply or typed error).
  BEACON_HOT void Record(int64_t latency_us);

  // How long to wait for a copy before sending the hedge; 0 only in kOff.
  int64_t delay_us() const { return delay_us_; }

 private:
  void Recompute();

  const HedgeMode mode_;
  // Largest samples Recompute keeps: the p99 of a full window is its 6th
  // largest (512 - 512 * 99 / 100).
  static constexpr size_t kMaxTop = kWindow - kWindow * 99 / 100;

  static_assert((kWindow & (kWindow - 1)) == 0, "the ring wraps with a mask");
  // The fields every call reads sit together before the ring, so a call
  // touches one line of them and one of the ring.
  int64_t delay_us_;
  size_t count_ = 0;  // samples in window_, up to kWindow
  size_t next_ = 0;   // ring position of the next sample
  size_t since_recompute_ = 0;
  std::array<int64_t, kWindow> window_;  // ring of the latest latencies
};

// Token bucket limiting hedges to budget_ratio of calls in the long run, with
// budget_burst tokens for a stall. Not thread-safe (one per session).
class HedgeBudget {
 public:
  explicit HedgeBudget(const HedgeOptions& options);

  // One call was made: deposits budget_ratio tokens (up to budget_burst).
  BEACON_HOT void OnCall();
  // True, taking one token, when a hedge may be sent; false leaves it.
  [[nodiscard]] bool TryWithdraw();
  // Gives back a token taken for a hedge that could not be sent.
  void Refund();

  double tokens() const { return tokens_; }

 private:
  const double ratio_;
  const double burst_;
  double tokens_;
};

}  // namespace beacon::client
