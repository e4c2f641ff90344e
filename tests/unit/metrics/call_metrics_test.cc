#include "metrics/call_metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "metrics/exposition.h"
#include "metrics/replica_metrics.h"

namespace beacon::metrics {
namespace {

class CallMetricsTest : public ::testing::Test {
 protected:
  CallMetricsTest() : metrics_(clock_) {}
  std::string Text() { return ExpositionText(metrics_.collectables()); }
  bool Has(const std::string& line) {
    return Text().find(line + "\n") != std::string::npos;
  }
  FakeClock clock_;
  ReplicaMetrics metrics_;
};

TEST_F(CallMetricsTest, CountsAnOkCallAndItsDuration) {
  {
    CallScope call(metrics_.calls(), "prime", "isPrime");
    EXPECT_TRUE(
        Has("beacon_replica_calls_in_flight{method=\"isPrime\",service=\"prime\"} 1"));
    clock_.AdvanceMillis(3);
  }
  EXPECT_TRUE(
      Has("beacon_replica_calls_in_flight{method=\"isPrime\",service=\"prime\"} 0"));
  EXPECT_TRUE(Has(
      "beacon_replica_calls_total{code=\"ok\",method=\"isPrime\",service=\"prime\"} 1"));
  EXPECT_TRUE(
      Has("beacon_replica_call_duration_seconds_sum{method=\"isPrime\","
          "service=\"prime\"} 0.003"));
  EXPECT_TRUE(
      Has("beacon_replica_call_duration_seconds_bucket{method=\"isPrime\","
          "service=\"prime\",le=\"0.0025\"} 0"));
  EXPECT_TRUE(
      Has("beacon_replica_call_duration_seconds_bucket{method=\"isPrime\","
          "service=\"prime\",le=\"0.005\"} 1"));
}

TEST_F(CallMetricsTest, CountsAFailureByItsCode) {
  {
    CallScope call(metrics_.calls(), "voting", "castVote");
    call.Fail(StatusCode::kUnavailable);
  }
  EXPECT_TRUE(
      Has("beacon_replica_calls_total{code=\"unavailable\",method=\"castVote\","
          "service=\"voting\"} 1"));
}

TEST_F(CallMetricsTest, AnEscapingExceptionCountsAsInternal) {
  try {
    CallScope call(metrics_.calls(), "prime", "countPrimes");
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(
      Has("beacon_replica_calls_total{code=\"internal\",method=\"countPrimes\","
          "service=\"prime\"} 1"));
}

TEST_F(CallMetricsTest, StateSourcesAppearOnlyOnceSet) {
  EXPECT_EQ(Text().find("beacon_replica_store_write_batches_total"), std::string::npos);
  metrics_.SetStoreSource([] { return std::optional<StoreCounters>({7, 1}); });
  metrics_.SetRegistrationSource([] {
    return RegistrationStates{{"127.0.0.1:9090", 2}, {"127.0.0.1:9091", 0}};
  });
  EXPECT_TRUE(Has("beacon_replica_store_write_batches_total 7"));
  EXPECT_TRUE(Has("beacon_replica_store_queued_writes 1"));
  EXPECT_TRUE(Has("beacon_replica_registered_services{registry=\"127.0.0.1:9091\"} 0"));
}

TEST_F(CallMetricsTest, EveryFamilyHasHelpAndType) {
  { CallScope call(metrics_.calls(), "prime", "isPrime"); }
  metrics_.votes_recorded().Increment();
  const std::string text = Text();
  for (const char* name :
       {"beacon_replica_calls_total", "beacon_replica_calls_in_flight",
        "beacon_replica_call_duration_seconds", "beacon_replica_votes_recorded_total",
        "beacon_replica_store_busy_refusals_total"}) {
    EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace beacon::metrics
