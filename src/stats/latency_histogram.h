// LatencyHistogram: bounded-memory latency recording with ~1.5% relative
// precision (log-linear buckets, like HdrHistogram), for the load generator
// and the benchmarks. Memory is fixed whatever the number of samples.
#pragma once

#include <array>
#include <cstdint>

namespace beacon::stats {

// Not thread-safe: one per thread, then Merge.
class LatencyHistogram {
 public:
  void Record(int64_t micros);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t max() const { return max_; }
  int64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }
  // The smallest recorded-bucket value v with at least q of the samples <= v
  // (q in [0,1]); 0 when empty. percentile(1.0) == max().
  int64_t Percentile(double q) const;

 private:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;
  static int Index(uint64_t v);
  static int64_t UpperBound(int index);

  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t max_ = 0;
  int64_t min_ = INT64_MAX;
};

}  // namespace beacon::stats
