#include "http/http_message.h"

#include <gtest/gtest.h>

namespace beacon::http {
namespace {

TEST(ParseTarget, SplitsPathAndDecodedQuery) {
  auto r = ParseTarget("GET", "/v1/events?after=12&wait_ms=25000&x=a%20b+c");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->path, "/v1/events");
  EXPECT_EQ(r->query.at("after"), "12");
  EXPECT_EQ(r->query.at("wait_ms"), "25000");
  EXPECT_EQ(r->query.at("x"), "a b c");
}

TEST(ParseTarget, DecodesThePath) {
  auto r = ParseTarget("GET", "/v1/services/my%2Dsvc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/v1/services/my-svc");
  EXPECT_TRUE(r->query.empty());
}

TEST(ParseTarget, EmptyPairsAndKeysWithoutValuesAreAccepted) {
  auto r = ParseTarget("GET", "/?&flag&&a=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query.at("flag"), "");
  EXPECT_EQ(r->query.at("a"), "1");
}

TEST(ParseTarget, RefusesATargetNotStartingWithSlash) {
  EXPECT_EQ(ParseTarget("GET", "http://x/").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("GET", "").status().code(), StatusCode::kInvalidArgument);
}

TEST(ParseTarget, RefusesBadOrTruncatedEscapesAndNul) {
  EXPECT_FALSE(ParseTarget("GET", "/a%zz").ok());
  EXPECT_FALSE(ParseTarget("GET", "/a%4").ok());
  EXPECT_FALSE(ParseTarget("GET", "/a%").ok());
  EXPECT_FALSE(ParseTarget("GET", "/a?x=%00").ok());
}

}  // namespace
}  // namespace beacon::http
