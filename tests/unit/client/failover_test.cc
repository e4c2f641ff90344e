// The failover rule with fakes on both sides: a FakeRegistryClient behind a
// real ServerCache, and a scripted ServerCall standing for the servers.
#include "client/failover.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "fake_registry_client.h"
#include "unit/poll_until.h"

namespace beacon::client {
namespace {

using discovery::testing::FakeRegistryClient;
using discovery::testing::Server;

using ::beacon::testing::PollUntil;

// A server call whose outcome per server id is scripted; records the order
// of the servers it was asked to call. Unscripted servers answer ok.
class ScriptedCall final : public ServerCall {
 public:
  std::map<std::string, AttemptOutcome> outcome;
  std::vector<std::string> called;
  std::function<void(const InstanceInfo&)> during;  // runs inside the attempt

  AttemptOutcome Attempt(const InstanceInfo& server) override {
    called.push_back(server.id);
    if (during) during(server);
    auto it = outcome.find(server.id);
    return it == outcome.end() ? AttemptOutcome{} : it->second;
  }
};

AttemptOutcome TransportFailure(const std::string& why = "connection refused") {
  return AttemptOutcome{Unavailable(why), true};
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    discovery::ServerCacheOptions options;
    options.retry_min_ms = 1;
    options.retry_max_ms = 5;
    auto cache = discovery::ServerCache::Create(registry_, clock_, options);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = std::move(cache).value();
    failover_ = std::make_unique<Failover>(*cache_, clock_);
  }
  void TearDown() override {
    failover_.reset();
    cache_.reset();
  }

  const discovery::InstanceView* Find(const std::string& id) {
    view_ = cache_->View("prime");
    for (const auto& i : view_.instances) {
      if (i.instance.id == id) return &i;
    }
    return nullptr;
  }

  FakeClock clock_;
  std::shared_ptr<FakeRegistryClient> registry_ = std::make_shared<FakeRegistryClient>();
  std::unique_ptr<discovery::ServerCache> cache_;
  std::unique_ptr<Failover> failover_;
  discovery::ServiceView view_;
};

TEST_F(FailoverTest, AnsweredCallIsReturnedAndCountedWithoutRetry) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  ScriptedCall call;
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  ASSERT_EQ(call.called.size(), 1u);
  EXPECT_EQ(served_by, call.called[0]);
  EXPECT_EQ(failover_->retries(), 0);
  ASSERT_NE(Find(served_by), nullptr);
  EXPECT_EQ(Find(served_by)->calls, 1);
  EXPECT_FALSE(Find(served_by)->down);
}

TEST_F(FailoverTest, TypedErrorIsReturnedAsItIsAndNotRetried) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  ScriptedCall call;
  call.outcome["a"] = AttemptOutcome{NotFound("poll 7 does not exist"), false};
  call.outcome["b"] = call.outcome["a"];
  std::string served_by;
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "poll 7 does not exist");
  EXPECT_EQ(call.called.size(), 1u);
  EXPECT_EQ(served_by, call.called[0]);
  EXPECT_EQ(failover_->retries(), 0);
  EXPECT_FALSE(Find(served_by)->down) << "a server that answered is not down";
}

TEST_F(FailoverTest, TransportFailureMarksDownAndRetriesOnceElsewhere) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  ScriptedCall call;
  // Whichever server is picked first fails; the others answer.
  call.during = [&](const InstanceInfo& server) {
    if (call.called.size() == 1) call.outcome[server.id] = TransportFailure();
  };
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  ASSERT_EQ(call.called.size(), 2u);
  EXPECT_NE(call.called[0], call.called[1]);
  EXPECT_EQ(served_by, call.called[1]);
  EXPECT_EQ(failover_->retries(), 1);
  EXPECT_TRUE(Find(call.called[0])->down);
  EXPECT_EQ(Find(call.called[0])->failures, 1);
  EXPECT_FALSE(Find(call.called[1])->down);
}

TEST_F(FailoverTest, AllDownFailsAfterExactlyTwoAttemptsNamingTheLastServer) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  ScriptedCall call;
  for (const char* id : {"a", "b", "c"}) call.outcome[id] = TransportFailure("refused");
  std::string served_by = "stale";
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ASSERT_EQ(call.called.size(), 2u);
  EXPECT_NE(call.called[0], call.called[1]);
  EXPECT_NE(s.message().find("server " + call.called[1] + " failed: refused"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(served_by, "");
  EXPECT_EQ(failover_->retries(), 1);
}

TEST_F(FailoverTest, OnlyServerFailingReportsItsFailureNotNoServer) {
  registry_->SetInstances("prime", {Server("a", 1)});
  ScriptedCall call;
  call.outcome["a"] = TransportFailure("reset by peer");
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(call.called, std::vector<std::string>{"a"}) << "never the same server twice";
  EXPECT_NE(s.message().find("server a failed: reset by peer"), std::string::npos)
      << s.message();
  EXPECT_EQ(failover_->retries(), 1);
}

TEST_F(FailoverTest, NoServerMakesNoAttempt) {
  registry_->SetInstances("prime", {});
  ScriptedCall call;
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("no live servers for service 'prime'"), std::string::npos)
      << s.message();
  EXPECT_TRUE(call.called.empty());
  EXPECT_EQ(failover_->retries(), 0);
}

TEST_F(FailoverTest, RegistryErrorOnFirstUseIsReturned) {
  ScriptedCall call;
  Status s = failover_->Run("not a service!", call);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(call.called.empty());
}

TEST_F(FailoverTest, RetryUsesTheListThatChangedDuringTheCall) {
  registry_->SetInstances("prime", {Server("a", 1)});
  ScriptedCall call;
  call.outcome["a"] = TransportFailure();
  // While the call to a is in flight, the registry replaces a with d; the
  // session's watch brings the new list before the attempt fails.
  call.during = [&](const InstanceInfo& server) {
    if (server.id != "a") return;
    const int64_t before = cache_->View("prime").version;
    registry_->SetInstances("prime", {Server("d", 4)});
    ASSERT_TRUE(PollUntil([&] { return cache_->View("prime").version != before; }));
  };
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(call.called, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(served_by, "d");
}

TEST_F(FailoverTest, SuccessAfterTheServerLeftTheListIsStillAnAnswer) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  ScriptedCall call;
  call.during = [&](const InstanceInfo& server) {
    const int64_t before = cache_->View("prime").version;
    registry_->SetInstances("prime", {Server(server.id == "a" ? "b" : "a", 9)});
    ASSERT_TRUE(PollUntil([&] { return cache_->View("prime").version != before; }));
  };
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(call.called.size(), 1u);
  EXPECT_EQ(served_by, call.called[0]);
}

}  // namespace
}  // namespace beacon::client
