#include "report.h"

#include <gtest/gtest.h>

namespace beacon::bench {
namespace {

using nlohmann::json;

json Record(const std::string& scenario, int rep, json metrics) {
  return json{{"scenario", scenario},
              {"rep", rep},
              {"load1", 1.0},
              {"metrics", metrics},
              {"detail", json::object()}};
}

TEST(Summarize, EmptyHasNoValues) { EXPECT_EQ(Summarize({}).n, 0); }

TEST(Summarize, OddCountTakesTheMiddleValue) {
  const Spread s = Summarize({5, 1, 3});
  EXPECT_EQ(s.median, 3);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 5);
  EXPECT_EQ(s.n, 3);
}

TEST(Summarize, EvenCountAveragesTheTwoMiddleValues) {
  EXPECT_EQ(Summarize({4, 1, 2, 10}).median, 3);
}

TEST(BuildReport, RecordsOfOneRepetitionAreMergedBeforeSummarising) {
  const json report = BuildReport({Record("fairness", 1, {{"normal.lru.tput", 100.0}}),
                                   Record("fairness", 1, {{"slow.lru.tput", 50.0}}),
                                   Record("fairness", 2, {{"normal.lru.tput", 200.0}}),
                                   Record("fairness", 2, {{"slow.lru.tput", 70.0}})},
                                  json::object(), {});
  const json& m = report["scenarios"]["fairness"]["metrics"];
  EXPECT_EQ(report["scenarios"]["fairness"]["reps"], 2);
  EXPECT_EQ(m["normal.lru.tput"]["n"], 2);
  EXPECT_EQ(m["slow.lru.tput"]["n"], 2);
  EXPECT_DOUBLE_EQ(m["slow.lru.tput"]["median"].get<double>(), 60.0);
}

TEST(BuildReport, P2cSlowOverNormalThroughputIsComputedPerRepetition) {
  const json report = BuildReport({Record("fairness", 1, {{"normal.p2c.tput", 100.0}}),
                                   Record("fairness", 1, {{"slow.p2c.tput", 90.0}}),
                                   Record("fairness", 2, {{"normal.p2c.tput", 200.0}}),
                                   Record("fairness", 2, {{"slow.p2c.tput", 100.0}})},
                                  json::object(), IssueGoals());
  const json& m = report["scenarios"]["fairness"]["metrics"]["p2c.slow_over_normal_tput"];
  EXPECT_EQ(m["n"], 2);
  EXPECT_DOUBLE_EQ(m["max"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(m["min"].get<double>(), 0.5);
}

TEST(BuildReport, NullRatiosAreSkipped) {
  const json report = BuildReport({Record("overhead", 1, {{"s1.tput_ratio", nullptr}}),
                                   Record("overhead", 2, {{"s1.tput_ratio", 0.95}})},
                                  json::object(), {});
  EXPECT_EQ(report["scenarios"]["overhead"]["metrics"]["s1.tput_ratio"]["n"], 1);
}

TEST(BuildReport, GoalIsJudgedOnTheMedianAndCountsRepetitionsThatMetIt) {
  const Goal goal{"ratio", "overhead", "s1.tput_ratio", Goal::Kind::kAtLeast, 0.9};
  const json report = BuildReport({Record("overhead", 1, {{"s1.tput_ratio", 0.85}}),
                                   Record("overhead", 2, {{"s1.tput_ratio", 0.95}}),
                                   Record("overhead", 3, {{"s1.tput_ratio", 0.92}})},
                                  json::object(), {goal});
  const json& g = report["goals"][0];
  EXPECT_TRUE(g["met"].get<bool>());
  EXPECT_DOUBLE_EQ(g["value"].get<double>(), 0.92);
  EXPECT_EQ(g["reps_met"], 2);
  EXPECT_EQ(g["reps"], 3);
}

TEST(BuildReport, WorstCaseGoalFailsWhenOneRepetitionMissesIt) {
  const Goal goal{"max", "voting", "c16.vote.max_us", Goal::Kind::kBelow, 100000, true};
  const json report = BuildReport({Record("voting", 1, {{"c16.vote.max_us", 20000}}),
                                   Record("voting", 2, {{"c16.vote.max_us", 100000}}),
                                   Record("voting", 3, {{"c16.vote.max_us", 30000}})},
                                  json::object(), {goal});
  const json& g = report["goals"][0];
  EXPECT_FALSE(g["met"].get<bool>());
  EXPECT_DOUBLE_EQ(g["value"].get<double>(), 100000);
}

TEST(BuildReport, GoalWithoutItsMetricIsReportedAsNotMeasured) {
  const Goal goal{"p99", "overhead", "s64.p99_ratio", Goal::Kind::kAtMost, 1.2};
  const json report = BuildReport({}, json::object(), {goal});
  EXPECT_FALSE(report["goals"][0]["measured"].get<bool>());
  EXPECT_NE(RenderMarkdown(report).find("not measured"), std::string::npos);
}

TEST(RenderMarkdown, ShowsMedianWithMinAndMax) {
  const json report = BuildReport({Record("overhead", 1, {{"s4.tput_ratio", 0.5}}),
                                   Record("overhead", 2, {{"s4.tput_ratio", 0.75}}),
                                   Record("overhead", 3, {{"s4.tput_ratio", 1.0}})},
                                  json::object(), {});
  EXPECT_NE(RenderMarkdown(report).find("| 4 |"), std::string::npos);
  EXPECT_NE(RenderMarkdown(report).find("0.75 (0.50–1.00)"), std::string::npos);
}

TEST(IssueGoals, IncludeTheVotingPathGoalsOfIssue15) {
  bool throughput = false, slowest = false;
  for (const Goal& g : IssueGoals()) {
    if (g.metric == "c16.vote_over_prime_tput" && g.kind == Goal::Kind::kAtLeast &&
        g.target == 0.30) {
      throughput = true;
    }
    if (g.metric == "c64.vote.max_us" && g.kind == Goal::Kind::kBelow &&
        g.target == 50000 && g.worst_case) {
      slowest = true;
    }
  }
  EXPECT_TRUE(throughput);
  EXPECT_TRUE(slowest);
}

TEST(RenderMarkdown, VotingShowsTheWalAndBothRawRates) {
  const json report = BuildReport({Record("voting", 1,
                                          {{"c16.vote_over_prime_tput", 0.3},
                                           {"c16.vote.tput", 15000},
                                           {"raw.tput", 27000},
                                           {"raw_many.tput", 41000},
                                           {"raw_many.threads", 16},
                                           {"wal.largest_bytes", 12500000},
                                           {"wal.largest_mb", 12.5},
                                           {"wal.rewinds", 7}})},
                                  json::object(), {});
  const std::string page = RenderMarkdown(report);
  EXPECT_NE(page.find("27,000 / 41,000"), std::string::npos) << page;
  EXPECT_NE(page.find("largest 12.5 MB"), std::string::npos) << page;
  EXPECT_NE(page.find("7 times"), std::string::npos) << page;
}

}  // namespace
}  // namespace beacon::bench
