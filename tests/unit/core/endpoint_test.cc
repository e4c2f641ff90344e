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
  for (const char* bad :
       {"", "host", "host:", "host:abc", "host:70000", "::1:80", "[::1]80", "a b:1"}) {
    auto ep = ParseEndpoint("--registry", bad);
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_NE(ep.status().message().find("--registry"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace beacon

namespace beacon {
namespace {

TEST(ParseEndpointList, OneAddressIsAListOfOne) {
  auto list = ParseEndpointList("--registry", "127.0.0.1:9090");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ToString(), "127.0.0.1:9090");
}

TEST(ParseEndpointList, KeepsTheOrderGiven) {
  auto list = ParseEndpointList("--registry", "registry2:9090,[::1]:9091,registry1:9090");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(JoinEndpoints(*list), "registry2:9090,[::1]:9091,registry1:9090");
}

TEST(ParseEndpointList, EmptyListOrItemIsRefusedNamingTheFlag) {
  for (const char* text : {"", ",", "a:1,", ",a:1", "a:1,,b:2"}) {
    auto list = ParseEndpointList("--registry", text);
    ASSERT_FALSE(list.ok()) << text;
    EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(list.status().message().find("--registry"), std::string::npos)
        << list.status().message();
  }
}

TEST(ParseEndpointList, DuplicateAddressIsRefused) {
  auto list = ParseEndpointList("--registry", "a:1,b:2,a:1");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(list.status().message(), "--registry lists a:1 twice");
}

TEST(ParseEndpointList, BadPortInAnyItemIsRefusedNamingTheFlag) {
  for (const char* text : {"a:1,b:0", "a:1,b:70000", "a:1,b:x", "a:1,b"}) {
    auto list = ParseEndpointList("--registry", text);
    ASSERT_FALSE(list.ok()) << text;
    EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(list.status().message().rfind("--registry", 0), 0u)
        << list.status().message();
  }
}

TEST(ParseAdvertiseAddress, EmptyAdvertisesTheListenAddress) {
  auto adv = ParseAdvertiseAddress("--advertise", "");
  ASSERT_TRUE(adv.ok()) << adv.status().ToString();
  EXPECT_EQ(adv->host, "");
  EXPECT_FALSE(adv->port.has_value());
  EXPECT_EQ(adv->Resolve("10.0.0.5", 9101).ToString(), "10.0.0.5:9101");
}

TEST(ParseAdvertiseAddress, WildcardListenHostIsAdvertisedAsLoopback) {
  const AdvertiseAddress none;
  EXPECT_EQ(none.Resolve("0.0.0.0", 9101).ToString(), "127.0.0.1:9101");
  EXPECT_EQ(none.Resolve("::", 9101).ToString(), "127.0.0.1:9101");
}

TEST(ParseAdvertiseAddress, HostWithoutPortTakesTheBoundPort) {
  auto adv = ParseAdvertiseAddress("--advertise", "replica-1");
  ASSERT_TRUE(adv.ok()) << adv.status().ToString();
  EXPECT_EQ(adv->host, "replica-1");
  EXPECT_FALSE(adv->port.has_value());
  EXPECT_EQ(adv->Resolve("0.0.0.0", 40000).ToString(), "replica-1:40000");
}

TEST(ParseAdvertiseAddress, HostAndPortOverrideBoth) {
  auto adv = ParseAdvertiseAddress("--advertise", "replica-1:9200");
  ASSERT_TRUE(adv.ok()) << adv.status().ToString();
  EXPECT_EQ(adv->Resolve("0.0.0.0", 40000).ToString(), "replica-1:9200");
}

TEST(ParseAdvertiseAddress, PortOnlyKeepsTheListenHost) {
  auto adv = ParseAdvertiseAddress("--advertise", ":9200");
  ASSERT_TRUE(adv.ok()) << adv.status().ToString();
  EXPECT_EQ(adv->Resolve("10.0.0.5", 40000).ToString(), "10.0.0.5:9200");
}

TEST(ParseAdvertiseAddress, BracketedIpv6WithAndWithoutPort) {
  auto with_port = ParseAdvertiseAddress("--advertise", "[::1]:9200");
  ASSERT_TRUE(with_port.ok()) << with_port.status().ToString();
  EXPECT_EQ(with_port->Resolve("::", 1).ToString(), "[::1]:9200");
  auto without = ParseAdvertiseAddress("--advertise", "[::1]");
  ASSERT_TRUE(without.ok()) << without.status().ToString();
  EXPECT_EQ(without->host, "::1");
  EXPECT_EQ(without->Resolve("::", 9300).ToString(), "[::1]:9300");
}

TEST(ParseAdvertiseAddress, RejectsGarbageNamingTheFlag) {
  for (const char* bad : {"::1", "::1:80", "host:", "host:0", "host:70000", "host:x",
                          "[::1", "[::1]80", "a b", "[]", "[]:80"}) {
    auto adv = ParseAdvertiseAddress("--advertise", bad);
    ASSERT_FALSE(adv.ok()) << bad;
    EXPECT_EQ(adv.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(adv.status().message().find("--advertise"), std::string::npos)
        << bad << ": " << adv.status().message();
  }
}

TEST(DefaultInstanceId, HostDashPort) {
  EXPECT_EQ(DefaultInstanceId(Endpoint{"127.0.0.1", 9101}), "127.0.0.1-9101");
  EXPECT_EQ(DefaultInstanceId(Endpoint{"replica_1.local", 80}), "replica_1.local-80");
}

TEST(DefaultInstanceId, CharactersANameCannotHoldBecomeUnderscores) {
  EXPECT_EQ(DefaultInstanceId(Endpoint{"::1", 9101}), "__1-9101");
  EXPECT_EQ(DefaultInstanceId(Endpoint{"fe80::1%eth0", 7}), "fe80__1_eth0-7");
}

}  // namespace
}  // namespace beacon
