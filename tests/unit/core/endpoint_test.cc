#include "core/endpoint.h"

#include <gtest/gtest.h>

namespace beacon {
namespace {

TEST(ParseEndpoint, HostAndPort) {
  auto ep = ParseEndpoint("--listen", "127.0.0.1:9090");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 9090);
  EXPECT_EQ(ep->ToString(), "127.0.0.1:9090");
}

TEST(ParseEndpoint, BracketedIpv6) {
  auto ep = ParseEndpoint("--listen", "[::1]:80");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->ToString(), "[::1]:80");
}

TEST(ParseEndpoint, EmptyHostTakesDefault) {
  auto ep = ParseEndpoint("--listen", ":7000");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "0.0.0.0");
}

TEST(ParseEndpoint, PortZeroOnlyWhenAllowed) {
  EXPECT_FALSE(ParseEndpoint("--registry", "localhost:0").ok());
  EXPECT_TRUE(ParseEndpoint("--listen", "localhost:0", true).ok());
}

TEST(ParseEndpoint, RejectsGarbageNamingTheFlag) {
  for (const char* bad : {"", "host", "host:", "host:abc", "host:70000", "::1:80", "[::1]80", "a b:1"}) {
    auto ep = ParseEndpoint("--registry", bad);
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_NE(ep.status().message().find("--registry"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace beacon
