#include "stats/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace beacon::stats {

int LatencyHistogram::Index(uint64_t v) {
  if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
  const int msb = 63 - __builtin_clzll(v);  // >= kSubBits
  const int shift = msb - kSubBits;
  const int sub = static_cast<int>((v >> shift) & (kSub - 1));
  return (shift + 1) * kSub + sub;
}

int64_t LatencyHistogram::UpperBound(int index) {
  if (index < kSub) return index;
  const int shift = index / kSub - 1;
  const int64_t sub = index % kSub;
  return ((static_cast<int64_t>(kSub) + sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(int64_t micros) {
  const int64_t v = std::max<int64_t>(0, micros);
  ++counts_[Index(static_cast<uint64_t>(v))];
  ++count_;
  sum_ += v;
  max_ = std::max(max_, v);
  min_ = std::min(min_, v);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<int64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * count_));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= std::max<int64_t>(rank, 1)) return std::min(UpperBound(i), max_);
  }
  return max_;
}

}  // namespace beacon::stats
