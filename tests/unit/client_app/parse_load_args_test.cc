// ParseLoadArgs: the load generator's flags, validated before anything runs.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "load.h"

namespace beacon::client_app {
namespace {

using Args = std::vector<std::string>;

// The error message for args, or "" when they parse.
std::string ErrorOf(const Args& args) {
  auto parsed = ParseLoadArgs(args);
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  return parsed.status().message();
}

TEST(ParseLoadArgs, ClientsAndRequestsWithDefaults) {
  auto o = ParseLoadArgs({"--clients", "8", "--requests", "2000"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->clients, 8);
  EXPECT_EQ(o->requests, 2000);
  EXPECT_EQ(o->duration_s, 0);
  EXPECT_EQ(o->mix, (std::map<std::string, int>{{"prime", 1}}));
  EXPECT_EQ(o->poll_id, 0);
  EXPECT_EQ(o->count_width, 10000u);
}

TEST(ParseLoadArgs, DurationInsteadOfRequests) {
  auto o = ParseLoadArgs({"--duration", "1.5", "--clients", "2"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_DOUBLE_EQ(o->duration_s, 1.5);
  EXPECT_EQ(o->requests, 0);
}

TEST(ParseLoadArgs, MixReplacesTheDefaultAndWeightDefaultsToOne) {
  auto o = ParseLoadArgs({"--clients", "1", "--requests", "1", "--mix", "prime=2,vote"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->mix, (std::map<std::string, int>{{"prime", 2}, {"vote", 1}}));
}

TEST(ParseLoadArgs, PollAndCountWidth) {
  auto o = ParseLoadArgs(
      {"--clients", "1", "--requests", "1", "--poll", "42", "--count-width", "10000000"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->poll_id, 42);
  EXPECT_EQ(o->count_width, 10000000u);
}

TEST(ParseLoadArgs, BoundariesAreAccepted) {
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "1"}), "");
  EXPECT_EQ(ErrorOf({"--clients", "1024", "--requests", "100000000"}), "");
  EXPECT_EQ(ErrorOf({"--clients", "1", "--duration", "3600"}), "");
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "1", "--mix", "count=1000,prime=0"}),
            "");
}

TEST(ParseLoadArgs, ClientsIsRequired) {
  EXPECT_EQ(ErrorOf({"--requests", "10"}), "--clients is required");
  EXPECT_EQ(ErrorOf({}), "--clients is required");
}

TEST(ParseLoadArgs, ClientsOutOfRangeIsRefused) {
  EXPECT_EQ(ErrorOf({"--clients", "0", "--requests", "10"}), "--clients must be 1..1024");
  EXPECT_EQ(ErrorOf({"--clients", "1025", "--requests", "10"}),
            "--clients must be 1..1024");
  EXPECT_EQ(ErrorOf({"--clients", "-3", "--requests", "10"}),
            "--clients must be 1..1024");
}

TEST(ParseLoadArgs, ExactlyOneOfRequestsAndDuration) {
  EXPECT_EQ(ErrorOf({"--clients", "2"}), "give exactly one of --requests and --duration");
  EXPECT_EQ(ErrorOf({"--clients", "2", "--requests", "5", "--duration", "1"}),
            "give exactly one of --requests and --duration");
}

TEST(ParseLoadArgs, RequestsOutOfRangeIsRefused) {
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "0"}),
            "--requests must be 1..100000000");
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "100000001"}),
            "--requests must be 1..100000000");
}

TEST(ParseLoadArgs, DurationOutOfRangeIsRefused) {
  const std::string message = "--duration must be more than 0 and at most 3600 seconds";
  EXPECT_EQ(ErrorOf({"--clients", "1", "--duration", "0"}), message);
  EXPECT_EQ(ErrorOf({"--clients", "1", "--duration", "3600.5"}), message);
  EXPECT_EQ(ErrorOf({"--clients", "1", "--duration", "-1"}), message);
  EXPECT_EQ(ErrorOf({"--clients", "1", "--duration", "nan"}), message);
  EXPECT_EQ(ErrorOf({"--clients", "1", "--duration", "inf"}), message);
}

TEST(ParseLoadArgs, MalformedNumbersNameTheFlagAndTheText) {
  EXPECT_EQ(ErrorOf({"--clients", "eight", "--requests", "1"}),
            "--clients needs a number, got 'eight'");
  EXPECT_EQ(ErrorOf({"--clients", "8x", "--requests", "1"}),
            "--clients needs a number, got '8x'");
  EXPECT_EQ(ErrorOf({"--clients", "", "--requests", "1"}),
            "--clients needs a number, got ''");
  EXPECT_EQ(ErrorOf({"--clients", "99999999999", "--requests", "1"}),
            "--clients needs a number, got '99999999999'");
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "1e3"}),
            "--requests needs a number, got '1e3'");
}

TEST(ParseLoadArgs, FlagWithoutValueIsRefused) {
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests"}), "--requests needs a value");
}

TEST(ParseLoadArgs, UnknownFlagIsRefused) {
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "1", "--threads", "4"}),
            "unknown load flag --threads");
}

TEST(ParseLoadArgs, BadMixIsRefused) {
  const Args base = {"--clients", "1", "--requests", "1", "--mix"};
  auto with = [&](const std::string& mix) {
    Args a = base;
    a.push_back(mix);
    return ErrorOf(a);
  };
  EXPECT_EQ(with("prime=1,sleep=2"), "--mix knows prime, count and vote, not 'sleep'");
  EXPECT_EQ(with("prime=x"), "--mix prime needs a number, got 'x'");
  EXPECT_EQ(with("prime=1001"), "--mix weights must be 0..1000");
  EXPECT_EQ(with("prime=-1"), "--mix weights must be 0..1000");
  EXPECT_EQ(with("prime=0,vote=0"), "--mix needs at least one positive weight");
  EXPECT_EQ(with(""), "--mix needs at least one positive weight");
}

TEST(ParseLoadArgs, BadPollAndCountWidthAreRefused) {
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "1", "--poll", "0"}),
            "--poll must be a poll id");
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "1", "--count-width", "0"}),
            "--count-width must be 1..10000000");
  EXPECT_EQ(ErrorOf({"--clients", "1", "--requests", "1", "--count-width", "10000001"}),
            "--count-width must be 1..10000000");
}

}  // namespace
}  // namespace beacon::client_app
