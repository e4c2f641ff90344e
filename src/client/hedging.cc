#include "client/hedging.h"

#include <algorithm>
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
                                                    : kColdUs) {
  if (mode_ == HedgeMode::kAuto) window_.reserve(kWindow);
}

void HedgeDelay::Record(int64_t latency_us) {
  if (mode_ != HedgeMode::kAuto) return;
  if (window_.size() < kWindow) {
    window_.push_back(latency_us);
  } else {
    window_[next_] = latency_us;
  }
  next_ = (next_ + 1) % kWindow;
  if (window_.size() < kMinSamples) return;
  // Every sample until the window is warm, then every kRecomputeEvery.
  if (window_.size() == kMinSamples || ++since_recompute_ >= kRecomputeEvery) {
    since_recompute_ = 0;
    Recompute();
  }
}

void HedgeDelay::Recompute() {
  std::vector<int64_t>& sorted = scratch_;
  sorted.assign(window_.begin(), window_.end());
  const size_t rank = std::min(sorted.size() - 1, sorted.size() * 99 / 100);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank),
                   sorted.end());
  delay_us_ = std::clamp(sorted[rank], kFloorUs, kCeilingUs);
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
