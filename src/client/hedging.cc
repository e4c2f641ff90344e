#include "client/hedging.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>

namespace beacon::client {

Result<HedgeOptions> ParseHedgeMs(const std::string& text) {
  HedgeOptions o;
  if (text == "auto") return o;
  if (text == "off") {
    o.mode = HedgeMode::kOff;
    return o;
  }
  int64_t ms = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || ms < 1 ||
      ms > 60000) {
    return InvalidArgument(
        "--hedge-ms must be auto, off or a delay of 1..60000 ms, got '" + text + "'");
  }
  o.mode = HedgeMode::kFixed;
  o.fixed_delay_us = ms * 1000;
  return o;
}

std::string HedgeName(const HedgeOptions& options) {
  switch (options.mode) {
    case HedgeMode::kOff:
      return "off";
    case HedgeMode::kFixed:
      return std::to_string(options.fixed_delay_us / 1000) + " ms";
    case HedgeMode::kAuto:
      break;
  }
  return "auto";
}

HedgeDelay::HedgeDelay(const HedgeOptions& options)
    : mode_(options.mode),
      delay_us_(options.mode == HedgeMode::kOff     ? 0
                : options.mode == HedgeMode::kFixed ? options.fixed_delay_us
                                                    : kColdUs) {}

void HedgeDelay::Record(int64_t latency_us) {
  if (mode_ != HedgeMode::kAuto) return;
  window_[next_] = latency_us;
  next_ = (next_ + 1) & (kWindow - 1);
  if (count_ < kWindow) ++count_;
  if (count_ < kMinSamples) return;
  // Every sample until the window is warm, then every kRecomputeEvery.
  if (count_ == kMinSamples || ++since_recompute_ >= kRecomputeEvery) {
    since_recompute_ = 0;
    Recompute();
  }
}

void HedgeDelay::Recompute() {
  // The sample at `rank` of the sorted window is its k-th largest, k at most
  // kMaxTop: one pass keeping the k largest costs about a comparison per
  // sample, a third of a full selection (this runs every kRecomputeEvery
  // calls, so it is a visible part of a call's CPU).
  const size_t n = count_;
  const size_t rank = std::min(n - 1, n * 99 / 100);
  const size_t k = n - rank;
  assert(k >= 1 && k <= kMaxTop);    // n <= kWindow
  std::array<int64_t, kMaxTop> top;  // the `have` largest so far, descending
  size_t have = 0;
  for (size_t j = 0; j < n; ++j) {
    const int64_t v = window_[j];
    if (have == k && v <= top[k - 1]) continue;
    size_t i = have < k ? have++ : k - 1;
    for (; i > 0 && top[i - 1] < v; --i) top[i] = top[i - 1];
    top[i] = v;
  }
  delay_us_ = std::clamp(top[k - 1], kFloorUs, kCeilingUs);
}

HedgeBudget::HedgeBudget(const HedgeOptions& options)
    : ratio_(options.budget_ratio),
      burst_(options.budget_burst),
      tokens_(options.budget_burst) {}

void HedgeBudget::OnCall() { tokens_ = std::min(burst_, tokens_ + ratio_); }

bool HedgeBudget::TryWithdraw() {
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void HedgeBudget::Refund() { tokens_ = std::min(burst_, tokens_ + 1); }

}  // namespace beacon::client
