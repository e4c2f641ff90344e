#include "stats/latency_histogram.h"

#include <gtest/gtest.h>

namespace beacon::stats {
namespace {

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Percentile(0.5), 0);
  EXPECT_EQ(h.max(), 0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 1; v <= 50; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 25);
  EXPECT_EQ(h.Percentile(1.0), 50);
  EXPECT_EQ(h.min(), 1);
}

TEST(LatencyHistogram, LargeValuesWithinTwoPercent) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100000; ++v) h.Record(v * 10);  // 10 us .. 1 s
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double expected = q * 1000000;
    EXPECT_NEAR(static_cast<double>(h.Percentile(q)), expected, expected * 0.02) << q;
  }
  EXPECT_EQ(h.max(), 1000000);
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.Record(100);
  b.Record(300);
  b.Record(200);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3);
  EXPECT_EQ(a.max(), 300);
  EXPECT_NEAR(a.mean(), 200.0, 1e-9);
}

}  // namespace
}  // namespace beacon::stats
