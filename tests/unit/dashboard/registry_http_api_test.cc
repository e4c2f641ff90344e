#include "dashboard/registry_http_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "dashboard/dashboard_page.h"
#include "unit/poll_until.h"

namespace beacon::dashboard {
namespace {

using nlohmann::json;

class RegistryHttpApiTest : public ::testing::Test {
 protected:
  RegistryHttpApiTest()
      : table_(clock_, Options(), 100),
        events_(clock_, registry::EventLogOptions{}),
        metrics_(table_, clock_),
        api_(table_, events_, metrics_, clock_, RegistryHttpApiOptions{1000, 1}) {
    table_.AddObserver(&events_);
    table_.AddObserver(&metrics_);
  }
  ~RegistryHttpApiTest() override { events_.Shutdown(); }
  static registry::LeaseTableOptions Options() {
    registry::LeaseTableOptions o;
    o.ttl_ms = 3000;
    return o;
  }
  http::HttpResponse Get(const std::string& target, const std::string& method = "GET") {
    auto request = http::ParseTarget(method, target);
    EXPECT_TRUE(request.ok());
    return api_.Handle(*request);
  }
  json GetJson(const std::string& target, int expect_status = 200) {
    http::HttpResponse r = Get(target);
    EXPECT_EQ(r.status, expect_status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return json::parse(r.body);
  }
  registry::Lease Register(const std::string& service, const std::string& id) {
    auto lease =
        table_.Register(service, {id, "127.0.0.1", 9000, {{"zone", "a"}}}, "", "");
    EXPECT_TRUE(lease.ok());
    return lease.ok() ? *lease : registry::Lease{};
  }

  FakeClock clock_;
  registry::LeaseTable table_;
  registry::EventLog events_;
  metrics::RegistryMetrics metrics_;
  RegistryHttpApi api_;
};

TEST_F(RegistryHttpApiTest, ServicesListsInstancesWithLeaseDetails) {
  auto lease = Register("prime", "a");
  clock_.AdvanceMillis(1000);
  ASSERT_TRUE(table_.Heartbeat("prime", "a", lease.lease_id, "").ok());
  clock_.AdvanceMillis(500);
  const json doc = GetJson("/v1/services");
  EXPECT_EQ(doc["ttl_ms"], 3000);
  ASSERT_EQ(doc["services"].size(), 1u);
  const json& s = doc["services"][0];
  EXPECT_EQ(s["name"], "prime");
  EXPECT_EQ(s["instance_count"], 1);
  EXPECT_EQ(s["watchers"], 0);
  const json& i = s["instances"][0];
  EXPECT_EQ(i["id"], "a");
  EXPECT_EQ(i["address"], "127.0.0.1:9000");
  EXPECT_EQ(i["metadata"]["zone"], "a");
  EXPECT_EQ(i["registered_ms_ago"], 1500);
  EXPECT_EQ(i["last_renewed_ms_ago"], 500);
  EXPECT_EQ(i["lease_left_ms"], 2500);
  EXPECT_EQ(i["heartbeats"], 1);
}

TEST_F(RegistryHttpApiTest, OneServiceByNameOr404Or400) {
  Register("prime", "a");
  EXPECT_EQ(GetJson("/v1/services/prime")["instances"][0]["id"], "a");
  EXPECT_NE(GetJson("/v1/services/nope", 404)["error"].get<std::string>().find("nope"),
            std::string::npos);
  EXPECT_EQ(Get("/v1/services/bad%20name").status, 400);
}

TEST_F(RegistryHttpApiTest, EventsWithoutWaitReturnsEverythingAtOnce) {
  Register("prime", "a");
  const json doc = GetJson("/v1/events?after=0");
  EXPECT_EQ(doc["seq"], 1);
  ASSERT_EQ(doc["events"].size(), 1u);
  EXPECT_EQ(doc["events"][0]["kind"], "registered");
  EXPECT_EQ(doc["services"][0]["name"], "prime");
}

TEST_F(RegistryHttpApiTest, ExpiryShowsInEventsWithItsReasonAndLeavesTheServices) {
  Register("prime", "a");
  clock_.AdvanceMillis(3000);
  const json doc = GetJson("/v1/events?after=1");
  ASSERT_EQ(doc["events"].size(), 1u);
  EXPECT_EQ(doc["events"][0]["kind"], "expired");
  EXPECT_NE(doc["events"][0]["reason"].get<std::string>().find("no heartbeat"),
            std::string::npos);
  EXPECT_TRUE(doc["services"][0]["instances"].empty());
}

TEST_F(RegistryHttpApiTest, LongPollWaitsForTheNextChange) {
  Register("prime", "a");
  json doc;
  std::thread poller([&] { doc = GetJson("/v1/events?after=1&wait_ms=1000"); });
  ASSERT_TRUE(testing::PollUntil([&] { return clock_.waiter_count() == 1; }));
  Register("prime", "b");
  poller.join();
  EXPECT_EQ(doc["seq"], 2);
  ASSERT_EQ(doc["events"].size(), 1u);
  EXPECT_EQ(doc["events"][0]["instance_id"], "b");
}

TEST_F(RegistryHttpApiTest, LongPollEndsAtItsWaitWithNothingNew) {
  json doc;
  std::thread poller([&] { doc = GetJson("/v1/events?after=0&wait_ms=200"); });
  ASSERT_TRUE(testing::PollUntil([&] { return clock_.waiter_count() == 1; }));
  clock_.AdvanceMillis(200);
  poller.join();
  EXPECT_EQ(doc["seq"], 0);
  EXPECT_TRUE(doc["events"].empty());
}

TEST_F(RegistryHttpApiTest, LongPollsOverTheLimitGet503WithRetryAfter) {
  std::thread poller([&] { Get("/v1/events?after=0&wait_ms=1000"); });
  ASSERT_TRUE(testing::PollUntil([&] { return clock_.waiter_count() == 1; }));
  http::HttpResponse busy = Get("/v1/events?after=0&wait_ms=1000");
  EXPECT_EQ(busy.status, 503);
  ASSERT_EQ(busy.headers.size(), 1u);
  EXPECT_EQ(busy.headers[0].first, "Retry-After");
  clock_.AdvanceMillis(1000);
  poller.join();
}

TEST_F(RegistryHttpApiTest, AStaleSequenceNumberStartsOver) {
  Register("prime", "a");
  const json doc = GetJson("/v1/events?after=999&wait_ms=1000");  // returns at once
  EXPECT_EQ(doc["seq"], 1);
  EXPECT_EQ(doc["events"].size(), 1u);
}

TEST_F(RegistryHttpApiTest, BadParametersGet400) {
  EXPECT_EQ(Get("/v1/events?after=x").status, 400);
  EXPECT_EQ(Get("/v1/events?after=-1").status, 400);
  EXPECT_EQ(Get("/v1/events?wait_ms=1001").status, 400);
  EXPECT_EQ(Get("/v1/events?wait_ms=5junk").status, 400);
}

TEST_F(RegistryHttpApiTest, OnlyGetAndHeadAreServed) {
  http::HttpResponse r = Get("/v1/services", "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Get("/metrics", "DELETE").status, 405);
  EXPECT_EQ(Get("/v1/services", "HEAD").status, 200);
}

TEST_F(RegistryHttpApiTest, PageIsSelfContainedWithAnEventsSection) {
  http::HttpResponse r = Get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<section id=\"events\">"), std::string::npos);
  EXPECT_NE(r.body.find("Recent events"), std::string::npos);
  EXPECT_NE(r.body.find("/v1/events"), std::string::npos);
  // Nothing fetched from elsewhere.
  EXPECT_EQ(r.body.find("http://"), std::string::npos);
  EXPECT_EQ(r.body.find("https://"), std::string::npos);
  EXPECT_EQ(r.body.find(" src="), std::string::npos);
}

TEST_F(RegistryHttpApiTest, MetricsAndHealthz) {
  Register("prime", "a");
  http::HttpResponse m = Get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("beacon_registry_registrations_total 1"), std::string::npos);
  EXPECT_NE(m.body.find("beacon_registry_instances{service=\"prime\"} 1"),
            std::string::npos);
  EXPECT_EQ(Get("/healthz").body, "ok\n");
  EXPECT_EQ(Get("/nope").status, 404);
}

TEST_F(RegistryHttpApiTest, WatchersPerServiceShowInTheServiceView) {
  Register("prime", "a");
  metrics::RegistryMetrics::WatcherScope w1(metrics_, "prime"), w2(metrics_, "prime");
  EXPECT_EQ(GetJson("/v1/services/prime")["watchers"], 2);
}

}  // namespace
}  // namespace beacon::dashboard
