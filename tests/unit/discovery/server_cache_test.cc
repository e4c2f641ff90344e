#include "discovery/server_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "fake_registry_client.h"
#include "unit/poll_until.h"

namespace beacon::discovery {
namespace {

using testing::FakeRegistryClient;
using testing::Server;

using ::beacon::testing::PollUntil;

class ServerCacheTest : public ::testing::Test {
 protected:
  // Fast background retries so tests that wait for them finish quickly.
  static ServerCacheOptions FastOptions() {
    ServerCacheOptions options;
    options.retry_min_ms = 1;
    options.retry_max_ms = 5;
    return options;
  }
  static ServerCacheOptions NoWatch() {
    ServerCacheOptions options = FastOptions();
    options.watch = false;
    return options;
  }

  std::unique_ptr<ServerCache> Make(ServerCacheOptions options = FastOptions()) {
    auto cache = ServerCache::Create(registry_, clock_, std::move(options));
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return std::move(cache).value();
  }

  std::string PickId(ServerCache& cache, const std::string& service = "prime",
                     const std::vector<std::string>& exclude = {}) {
    auto picked = cache.Pick(service, exclude);
    EXPECT_TRUE(picked.ok()) << picked.status().ToString();
    return picked.ok() ? picked->id : "<error>";
  }

  // The background thread is parked in Watch, so it makes no other call
  // until the membership changes.
  void WaitForWatch() {
    ASSERT_TRUE(PollUntil([&] { return registry_->WatchesInProgress() == 1; }));
  }

  static const InstanceView* Find(const ServiceView& view, const std::string& id) {
    for (const InstanceView& iv : view.instances) {
      if (iv.instance.id == id) return &iv;
    }
    return nullptr;
  }

  std::shared_ptr<FakeRegistryClient> registry_ = std::make_shared<FakeRegistryClient>();
  FakeClock clock_;
};

// ---- Create ----

TEST_F(ServerCacheTest, CreateRejectsUnknownBalancer) {
  ServerCacheOptions options;
  options.balancer = "random";
  auto cache = ServerCache::Create(registry_, clock_, options);
  ASSERT_FALSE(cache.ok());
  EXPECT_EQ(cache.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cache.status().message().find("round-robin, lru"), std::string::npos);
}

TEST_F(ServerCacheTest, CreateRejectsNullRegistry) {
  auto cache = ServerCache::Create(nullptr, clock_, ServerCacheOptions{});
  EXPECT_EQ(cache.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServerCacheTest, CreateRejectsOutOfRangeTimingsNamingTheField) {
  const std::vector<std::pair<std::string, void (*)(ServerCacheOptions&)>> cases = {
      {"down_cooloff_ms", [](ServerCacheOptions& o) { o.down_cooloff_ms = -1; }},
      {"watch_max_wait_ms", [](ServerCacheOptions& o) { o.watch_max_wait_ms = 0; }},
      {"retry_min_ms", [](ServerCacheOptions& o) { o.retry_min_ms = 0; }},
      {"retry_max_ms",
       [](ServerCacheOptions& o) { o.retry_max_ms = o.retry_min_ms - 1; }},
  };
  for (const auto& [field, spoil] : cases) {
    ServerCacheOptions options;
    spoil(options);
    auto cache = ServerCache::Create(registry_, clock_, options);
    ASSERT_FALSE(cache.ok()) << field;
    EXPECT_EQ(cache.status().code(), StatusCode::kInvalidArgument) << field;
    EXPECT_EQ(cache.status().message().rfind(field, 0), 0u) << cache.status().message();
  }
}

// ---- One lookup per service ----

TEST_F(ServerCacheTest, ThirtyPicksMakeOneLookupPerService) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  registry_->SetInstances("voting", {Server("v1", 8001)});
  auto cache = Make();
  for (int i = 0; i < 30; ++i) {
    PickId(*cache, "prime");
    PickId(*cache, "voting");
  }
  EXPECT_EQ(cache->View("prime").registry_lookups, 1);
  EXPECT_EQ(cache->View("voting").registry_lookups, 1);
  EXPECT_EQ(registry_->Lookups("prime"), 1);
  EXPECT_EQ(registry_->Lookups("voting"), 1);
}

TEST_F(ServerCacheTest, ConcurrentFirstPicksShareOneLookup) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  registry_->HoldLookups();
  auto cache = Make();
  std::atomic<int> started{0};
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      ++started;
      for (int i = 0; i < 10; ++i) succeeded += cache->Pick("prime").ok();
    });
  }
  EXPECT_TRUE(
      PollUntil([&] { return started == 8 && registry_->LookupsInProgress() == 1; }));
  registry_->ReleaseLookups();
  for (auto& th : threads) th.join();
  EXPECT_EQ(succeeded, 80);
  EXPECT_EQ(registry_->Lookups("prime"), 1);
}

// ---- Balancing over the cached list ----

TEST_F(ServerCacheTest, PicksRotateEvenlyOverCachedInstances) {
  registry_->SetInstances("prime",
                          {Server("p1", 7001), Server("p2", 7002), Server("p3", 7003)});
  auto cache = Make();
  std::vector<std::string> first;
  std::map<std::string, int> counts;
  for (int i = 0; i < 30; ++i) {
    const std::string id = PickId(*cache);
    if (i < 4) first.push_back(id);
    ++counts[id];
  }
  // In list order from a random starting point (so that one-command sessions
  // spread): p1 p2 p3 p1, p2 p3 p1 p2 or p3 p1 p2 p3.
  const std::vector<std::vector<std::string>> rotations = {
      {"p1", "p2", "p3", "p1"}, {"p2", "p3", "p1", "p2"}, {"p3", "p1", "p2", "p3"}};
  EXPECT_NE(std::find(rotations.begin(), rotations.end(), first), rotations.end());
  EXPECT_EQ(counts, (std::map<std::string, int>{{"p1", 10}, {"p2", 10}, {"p3", 10}}));
}

TEST_F(ServerCacheTest, LruPicksNewlyWatchedServerFirst) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  ServerCacheOptions options = FastOptions();
  options.balancer = "lru";
  auto cache = Make(options);
  for (int i = 0; i < 5; ++i) PickId(*cache);
  registry_->SetInstances("prime",
                          {Server("p1", 7001), Server("p2", 7002), Server("p3", 7003)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  EXPECT_EQ(cache->View("prime").balancer, "lru");
  EXPECT_EQ(PickId(*cache), "p3");
}

TEST_F(ServerCacheTest, ExcludedInstanceIsNeverPicked) {
  registry_->SetInstances("prime",
                          {Server("p1", 7001), Server("p2", 7002), Server("p3", 7003)});
  auto cache = Make();
  for (int i = 0; i < 20; ++i) EXPECT_NE(PickId(*cache, "prime", {"p2"}), "p2");
}

TEST_F(ServerCacheTest, SingleInstanceIsAlwaysPicked) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(PickId(*cache), "p1");
}

// ---- Down marks ----

TEST_F(ServerCacheTest, FailedInstanceIsSkippedUntilCooloffPasses) {
  registry_->SetInstances("prime",
                          {Server("p1", 7001), Server("p2", 7002), Server("p3", 7003)});
  auto cache = Make();
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p2");
  for (int i = 0; i < 20; ++i) EXPECT_NE(PickId(*cache), "p2");
  clock_.AdvanceMillis(4999);
  for (int i = 0; i < 6; ++i) EXPECT_NE(PickId(*cache), "p2");
  clock_.AdvanceMillis(1);
  std::map<std::string, int> counts;
  for (int i = 0; i < 30; ++i) ++counts[PickId(*cache)];
  EXPECT_EQ(counts["p2"], 10);
}

// A caller that already read the clock passes its reading: down marks are
// judged at that time, not at the cache clock's.
TEST_F(ServerCacheTest, PickJudgesDownMarksAtTheCallersReading) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p2");  // down for 5000 ms from now
  const int64_t now = clock_.NowMicros();
  std::map<std::string, int> before, after;
  for (int i = 0; i < 10; ++i) {
    auto picked = cache->PickServer("prime", {}, now + 4'999'999);
    ASSERT_TRUE(picked.ok()) << picked.status().ToString();
    ++before[(*picked)->id];
  }
  for (int i = 0; i < 10; ++i) {
    auto picked = cache->PickServer("prime", {}, now + 5'000'000);
    ASSERT_TRUE(picked.ok()) << picked.status().ToString();
    ++after[(*picked)->id];
  }
  EXPECT_EQ(before["p2"], 0) << "still inside its cool-off at that reading";
  EXPECT_EQ(after["p2"], 5) << "cool-off over at that reading, whatever the cache clock";
}

TEST_F(ServerCacheTest, ZeroCooloffNeverMarksDown) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  ServerCacheOptions options = FastOptions();
  options.down_cooloff_ms = 0;
  auto cache = Make(options);
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p1");
  EXPECT_FALSE(cache->View("prime").instances.at(0).down);
}

TEST_F(ServerCacheTest, AllDownFallsBackToTheOneBackSoonestAfterOneLookup) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  WaitForWatch();
  cache->ReportTransportFailure("prime", "p1");
  clock_.AdvanceMillis(1000);
  cache->ReportTransportFailure("prime", "p2");
  EXPECT_EQ(PickId(*cache), "p1");
  EXPECT_EQ(registry_->Lookups("prime"), 2);
}

TEST_F(ServerCacheTest, ExcludedDownInstanceIsNotAFallback) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p1");
  cache->ReportTransportFailure("prime", "p2");
  EXPECT_EQ(PickId(*cache, "prime", {"p1"}), "p2");
}

TEST_F(ServerCacheTest, NoUsableInstanceLooksUpAgainAndFindsNewServer) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  EXPECT_EQ(PickId(*cache, "prime", {"p1"}), "p2");
  EXPECT_EQ(registry_->Lookups("prime"), 2);
}

TEST_F(ServerCacheTest, AllExcludedIsUnavailableNamingTheService) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  auto picked = cache->Pick("prime", {"p1"});
  ASSERT_FALSE(picked.ok());
  EXPECT_EQ(picked.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(picked.status().message(), "no live servers for service 'prime'");
}

TEST_F(ServerCacheTest, EmptyMembershipIsUnavailableAfterOneLookup) {
  registry_->SetInstances("prime", {});
  auto cache = Make();
  auto picked = cache->Pick("prime");
  ASSERT_FALSE(picked.ok());
  EXPECT_EQ(picked.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(picked.status().message(), "no live servers for service 'prime'");
  EXPECT_EQ(registry_->Lookups("prime"), 1);
}

TEST_F(ServerCacheTest, EmptyListIsLookedUpAgainOnNextPick) {
  registry_->SetInstances("prime", {});
  auto cache = Make(NoWatch());
  EXPECT_FALSE(cache->Pick("prime").ok());
  registry_->SetInstances("prime", {Server("p1", 7001)});
  EXPECT_EQ(PickId(*cache), "p1");
}

// ---- Membership changes ----

TEST_F(ServerCacheTest, WatchSwapsInNewMembershipWithoutLookups) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache);
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  const ServiceView view = cache->View("prime");
  EXPECT_EQ(view.watch_updates, 1);
  EXPECT_EQ(view.registry_lookups, 1);
  EXPECT_EQ(view.instances.size(), 2u);
}

TEST_F(ServerCacheTest, InstanceThatLeftVanishesFromViewAndPicks) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  registry_->SetInstances("prime", {Server("p1", 7001)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  const ServiceView view = cache->View("prime");
  ASSERT_EQ(view.instances.size(), 1u);
  EXPECT_EQ(view.instances[0].instance.id, "p1");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(PickId(*cache), "p1");
}

TEST_F(ServerCacheTest, EmptyAnswerKeepsTheLastListUntilServersReturn) {
  // A restarted registry lists nobody until the replicas re-register.
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  const std::string first = PickId(*cache);
  registry_->SetInstances("prime", {});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  ServiceView view = cache->View("prime");
  EXPECT_TRUE(view.holding_last_list);
  EXPECT_EQ(view.instances.size(), 2u);
  // Calls go on to the last known servers (round-robin: the other one next).
  EXPECT_EQ(PickId(*cache), first == "p1" ? "p2" : "p1");
  registry_->SetInstances("prime", {Server("p2", 7002)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 3; }));
  view = cache->View("prime");
  EXPECT_FALSE(view.holding_last_list);
  ASSERT_EQ(view.instances.size(), 1u);
  EXPECT_EQ(view.instances[0].instance.id, "p2");
}

TEST_F(ServerCacheTest, OnlyServerDownAsksTheRegistryAtMostOncePerInterval) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache);
  WaitForWatch();
  cache->ReportTransportFailure("prime", "p1");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(PickId(*cache), "p1");  // the soonest back up
  EXPECT_EQ(registry_->Lookups("prime"), 2);  // first use + one synchronous refresh
  clock_.AdvanceMillis(999);
  PickId(*cache);
  EXPECT_EQ(registry_->Lookups("prime"), 2);
  clock_.AdvanceMillis(1);
  PickId(*cache);
  EXPECT_EQ(registry_->Lookups("prime"), 3);
}

TEST_F(ServerCacheTest, MovedInstanceLosesItsDownMark) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p1");
  ASSERT_TRUE(Find(cache->View("prime"), "p1")->down);
  registry_->SetInstances("prime", {Server("p1", 7101), Server("p2", 7002)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  const ServiceView view = cache->View("prime");
  const InstanceView* p1 = Find(view, "p1");
  ASSERT_NE(p1, nullptr);
  EXPECT_FALSE(p1->down);
  EXPECT_EQ(p1->instance.port, 7101);
  EXPECT_EQ(p1->failures, 1);  // statistics carry over
}

TEST_F(ServerCacheTest, InstanceAtSameAddressKeepsItsDownMark) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p1");
  registry_->SetInstances("prime",
                          {Server("p1", 7001), Server("p2", 7002), Server("p3", 7003)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  EXPECT_TRUE(Find(cache->View("prime"), "p1")->down);
}

TEST_F(ServerCacheTest, DifferentLowerVersionIsAdopted) {
  registry_->SetMembership("prime", 10, {Server("p1", 7001)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  registry_->SetMembership("prime", 3, {Server("p2", 7002)});
  cache->ReportTransportFailure("prime", "p1");
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 3; }));
  EXPECT_EQ(PickId(*cache), "p2");
}

TEST_F(ServerCacheTest, SameVersionDoesNotReplaceTheList) {
  registry_->SetMembership("prime", 5, {Server("p1", 7001)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  clock_.AdvanceMillis(1000);
  registry_->SetMembership("prime", 5, {Server("p2", 7002)});
  cache->ReportTransportFailure("prime", "p1");
  // age_ms drops to 0 once the background Lookup has been applied.
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").age_ms == 0; }));
  const ServiceView view = cache->View("prime");
  ASSERT_EQ(view.instances.size(), 1u);
  EXPECT_EQ(view.instances[0].instance.id, "p1");
}

// ---- Background refresh ----

TEST_F(ServerCacheTest, TransportFailureTriggersOneBackgroundLookup) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p1");
  EXPECT_TRUE(PollUntil([&] { return cache->View("prime").registry_lookups == 2; }));
}

TEST_F(ServerCacheTest, FailedRefreshIsRetriedUntilItSucceeds) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  registry_->SetReachable(false);
  cache->ReportTransportFailure("prime", "p1");
  ASSERT_TRUE(PollUntil([&] { return registry_->Lookups("prime") >= 3; }));
  registry_->SetInstances("prime", {Server("p2", 7002)});
  registry_->SetReachable(true);
  EXPECT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
}

TEST_F(ServerCacheTest, FailedRefreshStaysALookupInWatchMode) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache);
  WaitForWatch();
  cache->ReportTransportFailure("prime", "p1");
  registry_->SetReachable(false);  // ends the Watch; the refresh Lookup then fails
  ASSERT_TRUE(PollUntil([&] { return registry_->Lookups("prime") >= 2; }));
  clock_.AdvanceMillis(1000);
  registry_->SetReachable(true);
  // Only a Lookup answers at once with an unchanged list (a Watch would block).
  EXPECT_TRUE(PollUntil([&] { return cache->View("prime").age_ms == 0; }));
}

TEST_F(ServerCacheTest, BackgroundRefreshNeverBlocksPicks) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  registry_->HoldLookups();
  cache->ReportTransportFailure("prime", "p1");
  ASSERT_TRUE(PollUntil([&] { return registry_->LookupsInProgress() == 1; }));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(PickId(*cache), "p2");
  EXPECT_EQ(registry_->LookupsInProgress(), 1);  // the picks did not wait for it
  registry_->ReleaseLookups();
}

TEST_F(ServerCacheTest, RefreshRequestMakesNextRegistryCallALookup) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  WaitForWatch();
  cache->ReportTransportFailure("prime", "p1");
  registry_->ExpireWatches();
  ASSERT_TRUE(PollUntil([&] { return registry_->CallLog().size() >= 3; }));
  const auto log = registry_->CallLog();
  EXPECT_EQ(std::vector<std::string>(log.begin(), log.begin() + 3),
            (std::vector<std::string>{"lookup prime", "watch prime", "lookup prime"}));
}

TEST_F(ServerCacheTest, WatchErrorsAreRetriedUntilTheUpdateArrives) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  registry_->FailNextWatches(3);
  auto cache = Make();
  PickId(*cache);
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  EXPECT_GE(registry_->Watches("prime"), 4);
  EXPECT_EQ(cache->View("prime").registry_lookups, 1);
}

TEST_F(ServerCacheTest, UnchangedWatchAnswerConfirmsTheList) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache);
  WaitForWatch();
  clock_.AdvanceMillis(2000);
  ASSERT_EQ(cache->View("prime").age_ms, 2000);
  registry_->ExpireWatches();
  EXPECT_TRUE(PollUntil([&] { return cache->View("prime").age_ms == 0; }));
  EXPECT_EQ(cache->View("prime").watch_updates, 0);
}

// ---- Registry down ----

TEST_F(ServerCacheTest, RegistryDownCachedListStillServesEveryPick) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  registry_->SetReachable(false);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(cache->Pick("prime").ok());
}

TEST_F(ServerCacheTest, RegistryDownAndAllServersDownStillReturnsOne) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache);
  registry_->SetReachable(false);
  cache->ReportTransportFailure("prime", "p1");
  EXPECT_EQ(PickId(*cache), "p1");
}

TEST_F(ServerCacheTest, RegistryDownWithNoUsableServerNamesBothProblems) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache);
  registry_->SetReachable(false);
  auto picked = cache->Pick("prime", {"p1"});
  ASSERT_FALSE(picked.ok());
  EXPECT_EQ(picked.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(picked.status().message(),
            "no live servers for service 'prime' (registry 127.0.0.1:9090: "
            "connect to 127.0.0.1:9090 refused)");
}

TEST_F(ServerCacheTest, NeverReachedRegistryFailsWithClearMessage) {
  registry_->SetReachable(false);
  auto cache = Make();
  auto picked = cache->Pick("prime");
  ASSERT_FALSE(picked.ok());
  EXPECT_EQ(picked.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(picked.status().message(),
            "registry 127.0.0.1:9090 unreachable and no cached servers: "
            "connect to 127.0.0.1:9090 refused");
}

TEST_F(ServerCacheTest, RegistryComingBackFillsTheCacheInBackground) {
  registry_->SetReachable(false);
  auto cache = Make();
  EXPECT_FALSE(cache->Pick("prime").ok());
  registry_->SetInstances("prime", {Server("p1", 7001)});
  registry_->SetReachable(true);
  EXPECT_TRUE(PollUntil([&] { return cache->View("prime").has_list; }));
}

TEST_F(ServerCacheTest, OtherRegistryErrorOnFirstUseIsReturnedAsIs) {
  registry_->SetLookupError(InvalidArgument("service_name is reserved"));
  auto cache = Make(NoWatch());
  auto picked = cache->Pick("prime");
  EXPECT_EQ(picked.status(), InvalidArgument("service_name is reserved"));
}

// ---- Input checks ----

TEST_F(ServerCacheTest, MalformedServiceNameIsRejectedWithoutLookup) {
  auto cache = Make();
  auto picked = cache->Pick("no spaces please");
  EXPECT_EQ(picked.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry_->CallLog().empty());
  EXPECT_TRUE(cache->Services().empty());
}

TEST_F(ServerCacheTest, TooManyServicesIsResourceExhausted) {
  auto cache = Make(NoWatch());
  for (size_t i = 0; i < ServerCache::kMaxServices; ++i) {
    (void)cache->Pick("s" + std::to_string(i));  // empty lists: unavailable, but used
  }
  auto picked = cache->Pick("one-more");
  EXPECT_EQ(picked.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(cache->Services().size(), ServerCache::kMaxServices);
}

TEST_F(ServerCacheTest, ReportsForUnusedServiceCreateNothing) {
  auto cache = Make();
  cache->ReportTransportFailure("ghost", "g1");
  cache->ReportSuccess("ghost", "g1", 10);
  EXPECT_TRUE(cache->Services().empty());
  EXPECT_TRUE(registry_->CallLog().empty());
}

// ---- Load ----

TEST_F(ServerCacheTest, LoadFetchesTheListOnceAndPicksReuseIt) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  ASSERT_TRUE(cache->Load("prime").ok());
  EXPECT_TRUE(cache->View("prime").has_list);
  EXPECT_TRUE(cache->Load("prime").ok());
  PickId(*cache);
  EXPECT_EQ(registry_->Lookups("prime"), 1);
}

TEST_F(ServerCacheTest, LoadOfEmptyMembershipSucceedsWithEmptyList) {
  registry_->SetInstances("prime", {});
  auto cache = Make();
  ASSERT_TRUE(cache->Load("prime").ok());
  EXPECT_TRUE(cache->View("prime").has_list);
  EXPECT_TRUE(cache->View("prime").instances.empty());
}

TEST_F(ServerCacheTest, LoadWithRegistryNeverReachedFailsWithClearMessage) {
  registry_->SetReachable(false);
  auto cache = Make();
  EXPECT_EQ(cache->Load("prime"),
            Unavailable("registry 127.0.0.1:9090 unreachable and no cached servers: "
                        "connect to 127.0.0.1:9090 refused"));
}

TEST_F(ServerCacheTest, LoadRejectsMalformedServiceName) {
  auto cache = Make();
  EXPECT_EQ(cache->Load("").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry_->CallLog().empty());
}

// ---- Views and statistics ----

TEST_F(ServerCacheTest, ViewOfUnusedServiceHasNoList) {
  auto cache = Make();
  const ServiceView view = cache->View("prime");
  EXPECT_EQ(view.service_name, "prime");
  EXPECT_FALSE(view.has_list);
  EXPECT_EQ(view.age_ms, -1);
  EXPECT_EQ(view.balancer, "round-robin");
  EXPECT_TRUE(view.instances.empty());
}

TEST_F(ServerCacheTest, ServicesListsUsedServicesSorted) {
  registry_->SetInstances("voting", {Server("v1", 8001)});
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache, "voting");
  PickId(*cache, "prime");
  EXPECT_EQ(cache->Services(), (std::vector<std::string>{"prime", "voting"}));
}

TEST_F(ServerCacheTest, ReportsCountCallsAndFailuresPerInstance) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = Make();
  PickId(*cache);
  cache->ReportSuccess("prime", "p1", 120);
  cache->ReportSuccess("prime", "p1", 80);
  cache->ReportTransportFailure("prime", "p1");
  cache->ReportSuccess("prime", "p2", 50);
  const ServiceView view = cache->View("prime");
  EXPECT_EQ(Find(view, "p1")->calls, 3);
  EXPECT_EQ(Find(view, "p1")->failures, 1);
  EXPECT_EQ(Find(view, "p2")->calls, 1);
  EXPECT_EQ(Find(view, "p2")->failures, 0);
}

TEST_F(ServerCacheTest, PickedServerReportsCountWithoutALookup) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  auto picked = cache->PickServer("prime");
  ASSERT_TRUE(picked.ok()) << picked.status().ToString();
  EXPECT_EQ((*picked)->id, "p1");
  EXPECT_EQ((**picked).port, 7001);
  cache->ReportSuccess(*picked, 120);
  cache->ReportTransportFailure(*picked);
  const ServiceView view = cache->View("prime");
  EXPECT_EQ(Find(view, "p1")->calls, 2);
  EXPECT_EQ(Find(view, "p1")->failures, 1);
  EXPECT_TRUE(Find(view, "p1")->down);
}

TEST_F(ServerCacheTest, PickedServerOutlivesTheListItCameFrom) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  auto picked = cache->PickServer("prime");
  ASSERT_TRUE(picked.ok());
  registry_->SetInstances("prime", {Server("p2", 7002)});
  ASSERT_TRUE(PollUntil([&] { return cache->View("prime").version == 2; }));
  // The handle still reads the instance it was given, and reporting it is safe.
  EXPECT_EQ((*picked)->id, "p1");
  EXPECT_EQ((*picked)->port, 7001);
  cache->ReportSuccess(*picked, 100);
  EXPECT_EQ(PickId(*cache), "p2");
}

TEST_F(ServerCacheTest, AgeComesFromTheClock) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make(NoWatch());
  PickId(*cache);
  EXPECT_EQ(cache->View("prime").age_ms, 0);
  clock_.AdvanceMillis(1234);
  EXPECT_EQ(cache->View("prime").age_ms, 1234);
}

TEST_F(ServerCacheTest, DownRemainingCountsDownWithTheClock) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  auto cache = Make();
  PickId(*cache);
  cache->ReportTransportFailure("prime", "p1");
  EXPECT_EQ(cache->View("prime").instances.at(0).down_remaining_ms, 5000);
  clock_.AdvanceMillis(1200);
  EXPECT_EQ(cache->View("prime").instances.at(0).down_remaining_ms, 3800);
  clock_.AdvanceMillis(3800);
  EXPECT_FALSE(cache->View("prime").instances.at(0).down);
  EXPECT_EQ(cache->View("prime").instances.at(0).down_remaining_ms, 0);
}

// ---- Shutdown ----

TEST_F(ServerCacheTest, DestructorCancelsWatchInProgress) {
  registry_->SetInstances("prime", {Server("p1", 7001)});
  ServerCacheOptions options = FastOptions();
  options.watch_max_wait_ms = 600'000;
  auto cache = Make(options);
  PickId(*cache);
  WaitForWatch();
  const auto start = std::chrono::steady_clock::now();
  cache.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_GE(registry_->Cancels(), 1);
}

TEST_F(ServerCacheTest, DestructorInterruptsRetryBackoff) {
  registry_->SetReachable(false);
  ServerCacheOptions options;
  options.retry_min_ms = 600'000;
  options.retry_max_ms = 600'000;
  auto cache = Make(options);
  EXPECT_FALSE(cache->Pick("prime").ok());
  const auto start = std::chrono::steady_clock::now();
  cache.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// ---- Concurrency ----

TEST_F(ServerCacheTest, ConcurrentPicksAndReportsKeepExactCounts) {
  registry_->SetInstances("prime",
                          {Server("p1", 7001), Server("p2", 7002), Server("p3", 7003)});
  auto cache = Make();
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 2000;
  std::atomic<int> failed_picks{0};
  std::atomic<bool> done{false};
  // Membership churn (same addresses, new metadata) and time passing while
  // the callers run.
  std::thread churn([&] {
    for (int v = 0; !done; ++v) {
      std::vector<InstanceInfo> list = {Server("p1", 7001), Server("p2", 7002),
                                        Server("p3", 7003)};
      list[v % 3].metadata["round"] = std::to_string(v);
      registry_->SetInstances("prime", list);
      clock_.AdvanceMillis(100);
      (void)cache->View("prime");
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        auto picked = cache->Pick("prime");
        if (!picked.ok()) {
          ++failed_picks;
          continue;
        }
        if ((i + t) % 10 == 0) {
          cache->ReportTransportFailure("prime", picked->id);
        } else {
          cache->ReportSuccess("prime", picked->id, 100);
        }
      }
    });
  }
  for (auto& th : callers) th.join();
  done = true;
  churn.join();
  EXPECT_EQ(failed_picks, 0);
  int64_t calls = 0;
  int64_t failures = 0;
  for (const InstanceView& iv : cache->View("prime").instances) {
    calls += iv.calls;
    failures += iv.failures;
  }
  EXPECT_EQ(calls, kThreads * kCallsPerThread);
  EXPECT_EQ(failures, kThreads * kCallsPerThread / 10);
}

// ---- Snapshot on disk (fail-static across sessions) ----

// An in-memory SnapshotStore.
class FakeSnapshotStore final : public SnapshotStore {
 public:
  void Save(const std::string& service,
            const std::vector<InstanceInfo>& instances) override {
    MutexLock lock(mu_);
    saved_[service] = SavedList{instances, 0};
    ++saves_;
  }
  std::optional<SavedList> Load(const std::string& service) override {
    MutexLock lock(mu_);
    auto it = saved_.find(service);
    if (it == saved_.end()) return std::nullopt;
    return it->second;
  }
  void Put(const std::string& service, std::vector<InstanceInfo> instances,
           int64_t age_ms) {
    MutexLock lock(mu_);
    saved_[service] = SavedList{std::move(instances), age_ms};
  }
  int saves() const {
    MutexLock lock(mu_);
    return saves_;
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, SavedList> saved_ GUARDED_BY(mu_);
  int saves_ GUARDED_BY(mu_) = 0;
};

class ServerCacheSnapshotTest : public ServerCacheTest {
 protected:
  std::unique_ptr<ServerCache> MakeWithSnapshot() {
    auto cache = ServerCache::Create(registry_, clock_, FastOptions(), store_);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return std::move(cache).value();
  }
  std::shared_ptr<FakeSnapshotStore> store_ = std::make_shared<FakeSnapshotStore>();
};

TEST_F(ServerCacheSnapshotTest, ListsFromTheRegistryAreSaved) {
  registry_->SetInstances("prime", {Server("p1", 7001), Server("p2", 7002)});
  auto cache = MakeWithSnapshot();
  PickId(*cache);
  auto saved = store_->Load("prime");
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->instances.size(), 2u);
}

TEST_F(ServerCacheSnapshotTest, EmptyListFromTheRegistryIsNotSaved) {
  registry_->SetInstances("prime", {});
  auto cache = MakeWithSnapshot();
  EXPECT_FALSE(cache->Pick("prime").ok());
  EXPECT_EQ(store_->saves(), 0);
}

TEST_F(ServerCacheSnapshotTest, NoRegistryReachableStartsFromTheSnapshotAndSaysSo) {
  registry_->SetReachable(false);
  store_->Put("prime", {Server("p1", 7001)}, 90000);
  auto cache = MakeWithSnapshot();
  EXPECT_EQ(PickId(*cache), "p1");
  const ServiceView view = cache->View("prime");
  EXPECT_TRUE(view.has_list);
  EXPECT_TRUE(view.from_snapshot);
  EXPECT_EQ(view.age_ms, 90000);
  clock_.AdvanceMillis(1000);
  EXPECT_EQ(cache->View("prime").age_ms, 91000);
}

TEST_F(ServerCacheSnapshotTest, WithoutASnapshotTheUsualErrorStays) {
  registry_->SetReachable(false);
  auto cache = MakeWithSnapshot();
  auto picked = cache->Pick("prime");
  ASSERT_EQ(picked.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(picked.status().message().rfind("registry 127.0.0.1:9090 unreachable and no "
                                            "cached servers",
                                            0),
            0u)
      << picked.status().message();
}

TEST_F(ServerCacheSnapshotTest, RegistryThatAnswersIsPreferredToTheSnapshot) {
  registry_->SetInstances("prime", {Server("p2", 7002)});
  store_->Put("prime", {Server("p1", 7001)}, 0);
  auto cache = MakeWithSnapshot();
  EXPECT_EQ(PickId(*cache), "p2");
  EXPECT_FALSE(cache->View("prime").from_snapshot);
}

TEST_F(ServerCacheSnapshotTest, FirstRegistryAnswerReplacesTheSnapshotList) {
  registry_->SetReachable(false);
  store_->Put("prime", {Server("p1", 7001)}, 5000);
  auto cache = MakeWithSnapshot();
  EXPECT_EQ(PickId(*cache), "p1");
  // The registry comes back with the same version number the snapshot list
  // was given: the list is still replaced, since no registry confirmed it.
  registry_->SetMembership("prime", 0, {Server("p2", 7002)});
  registry_->SetReachable(true);
  ASSERT_TRUE(PollUntil([&] { return !cache->View("prime").from_snapshot; }));
  EXPECT_EQ(PickId(*cache), "p2");
}

TEST_F(ServerCacheSnapshotTest, AnswerThatIsNotUnavailableDoesNotFallBackToTheSnapshot) {
  registry_->SetLookupError(InvalidArgument("bad service"));
  store_->Put("prime", {Server("p1", 7001)}, 0);
  auto cache = MakeWithSnapshot();
  EXPECT_EQ(cache->Pick("prime").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace beacon::discovery
