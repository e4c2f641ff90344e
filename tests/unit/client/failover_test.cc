// The failover rule with fakes on both sides: a FakeRegistryClient behind a
// real ServerCache, and a scripted ServerCall standing for the servers.
#include "client/failover.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "fake_registry_client.h"
#include "unit/poll_until.h"

namespace beacon::client {
namespace {

using discovery::testing::FakeRegistryClient;
using discovery::testing::Server;

using ::beacon::testing::PollUntil;

// What the fake servers do. Shared with the attempts, which may outlive the
// call that started them (abandoned copies are drained later).
struct FakeServers {
  // Per server id: how the copy ends (unscripted: ok) and how long after
  // it was sent its answer arrives (unscripted: kDefaultLatencyUs).
  std::map<std::string, AttemptOutcome> outcome;
  std::map<std::string, int64_t> latency_us;
  // Per copy, in the order copies are started (over all calls): overrides
  // latency_us for that copy.
  std::map<size_t, int64_t> copy_latency_us;
  std::vector<std::string> called;  // server of every copy started, in order
  int live_attempts = 0;            // started and not destroyed: open connections
  int bounded_waits = 0;            // FinishWithin calls
  // A bounded first wait (FinishWithin) that finds no answer ends this long
  // before its bound, as a coarse kernel timer may end it.
  int64_t early_expiry_us = 0;
  std::function<void(const std::string&)> during;  // runs inside a Finish
};

constexpr int64_t kDefaultLatencyUs = 100;
constexpr int64_t kNever = INT64_MAX / 4;  // a server that does not answer

// One copy on a fake server; its answer "arrives" at ready_at on the fake
// clock. Finish advances the clock to it (blocking, as a read would), or to
// the call timeout, where it fails in the transport.
class FakeAttempt final : public Attempt {
 public:
  FakeAttempt(std::shared_ptr<FakeServers> servers, FakeClock& clock, std::string id,
              int64_t ready_at, int64_t timeout_at)
      : servers_(std::move(servers)),
        clock_(clock),
        id_(std::move(id)),
        ready_at_(ready_at),
        timeout_at_(timeout_at) {
    ++servers_->live_attempts;
  }
  ~FakeAttempt() override { --servers_->live_attempts; }

  AttemptOutcome Finish() override {
    const int64_t until = std::min(ready_at_, timeout_at_);
    if (until > clock_.NowMicros()) clock_.AdvanceMicros(until - clock_.NowMicros());
    if (servers_->during) servers_->during(id_);
    if (ready_at_ > timeout_at_) return AttemptOutcome{Unavailable("timed out"), true};
    auto it = servers_->outcome.find(id_);
    return it == servers_->outcome.end() ? AttemptOutcome{} : it->second;
  }
  std::optional<AttemptOutcome> FinishWithin(int64_t timeout_us) override {
    ++servers_->bounded_waits;
    if (timeout_us <= 0) return std::nullopt;
    const int64_t now = clock_.NowMicros();
    if (std::min(ready_at_, timeout_at_) <= now + timeout_us) return Finish();
    clock_.AdvanceMicros(std::max<int64_t>(0, timeout_us - servers_->early_expiry_us));
    return std::nullopt;
  }
  int64_t ready_at() const { return ready_at_; }
  const std::string& id() const { return id_; }

 private:
  std::shared_ptr<FakeServers> servers_;
  FakeClock& clock_;
  const std::string id_;
  const int64_t ready_at_;
  const int64_t timeout_at_;
};

class FakeCall final : public ServerCall {
 public:
  FakeCall(std::shared_ptr<FakeServers> servers, FakeClock& clock, int64_t timeout_us)
      : servers_(std::move(servers)), clock_(clock), timeout_us_(timeout_us) {}

  std::unique_ptr<Attempt> Start(const InstanceInfo& server, int64_t now_us) override {
    FakeServers& s = *servers_;
    const size_t index = s.called.size();
    s.called.push_back(server.id);
    int64_t latency = kDefaultLatencyUs;
    if (auto it = s.latency_us.find(server.id); it != s.latency_us.end()) {
      latency = it->second;
    }
    if (auto it = s.copy_latency_us.find(index); it != s.copy_latency_us.end()) {
      latency = it->second;
    }
    const int64_t now = clock_.NowMicros();
    EXPECT_EQ(now_us, now) << "a copy starts at the clock's current reading";
    return std::make_unique<FakeAttempt>(servers_, clock_, server.id, now + latency,
                                         now + timeout_us_);
  }
  void Accept(Attempt& winner) override {
    accepted = static_cast<FakeAttempt&>(winner).id();
  }
  std::string accepted;  // server whose reply the call kept

 private:
  std::shared_ptr<FakeServers> servers_;
  FakeClock& clock_;
  const int64_t timeout_us_;
};

// Waits in virtual time: moves the fake clock to the first answer among the
// attempts, or to the deadline when that comes first.
class VirtualTimeWaiter final : public AttemptWaiter {
 public:
  explicit VirtualTimeWaiter(FakeClock& clock) : clock_(clock) {}
  int WaitAny(const std::vector<Attempt*>& attempts, int64_t deadline_us) override {
    ++waits;
    const int64_t now = clock_.NowMicros();
    if (attempts.empty()) {  // a backoff: only the deadline can end it
      ++empty_waits;
      if (deadline_us > now) clock_.AdvanceMicros(deadline_us - now);
      return -1;
    }
    int first = -1;
    for (size_t i = 0; i < attempts.size(); ++i) {
      const auto* a = static_cast<const FakeAttempt*>(attempts[i]);
      if (first < 0 || a->ready_at() < static_cast<const FakeAttempt*>(
                                           attempts[static_cast<size_t>(first)])
                                           ->ready_at()) {
        first = static_cast<int>(i);
      }
    }
    const int64_t ready_at =
        static_cast<const FakeAttempt*>(attempts[static_cast<size_t>(first)])->ready_at();
    if (ready_at <= std::max(deadline_us, now)) {
      if (ready_at > now) clock_.AdvanceMicros(ready_at - now);
      return first;
    }
    if (deadline_us > now) clock_.AdvanceMicros(deadline_us - now);
    return -1;
  }
  int waits = 0;
  int empty_waits = 0;  // backoffs

 private:
  FakeClock& clock_;
};

AttemptOutcome TransportFailure(const std::string& why = "connection refused") {
  return AttemptOutcome{Unavailable(why), true};
}

constexpr int64_t kTimeoutUs = 5'000'000;

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    discovery::ServerCacheOptions options;
    options.retry_min_ms = 1;
    options.retry_max_ms = 5;
    auto cache = discovery::ServerCache::Create(registry_, clock_, options);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = std::move(cache).value();
    MakeFailover(HedgeOptions{});
  }
  void TearDown() override {
    failover_.reset();
    cache_.reset();
  }

  void MakeFailover(HedgeOptions hedge) {
    FailoverOptions options;
    options.hedge = hedge;
    options.call_timeout_us = kTimeoutUs;
    failover_.reset();
    failover_ = std::make_unique<Failover>(*cache_, clock_, waiter_, options);
  }
  static HedgeOptions FixedHedge(int64_t delay_us, double burst = 10) {
    HedgeOptions h;
    h.mode = HedgeMode::kFixed;
    h.fixed_delay_us = delay_us;
    h.budget_burst = burst;
    return h;
  }

  FakeCall NewCall() { return FakeCall(servers_, clock_, kTimeoutUs); }

  const discovery::InstanceView* Find(const std::string& id) {
    view_ = cache_->View("prime");
    for (const auto& i : view_.instances) {
      if (i.instance.id == id) return &i;
    }
    return nullptr;
  }

  FakeClock clock_;
  VirtualTimeWaiter waiter_{clock_};
  std::shared_ptr<FakeServers> servers_ = std::make_shared<FakeServers>();
  std::shared_ptr<FakeRegistryClient> registry_ = std::make_shared<FakeRegistryClient>();
  std::unique_ptr<discovery::ServerCache> cache_;
  std::unique_ptr<Failover> failover_;
  discovery::ServiceView view_;
};

TEST_F(FailoverTest, AnsweredCallIsReturnedAndCountedWithoutRetry) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  FakeCall call = NewCall();
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  ASSERT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(served_by, servers_->called[0]);
  EXPECT_EQ(failover_->retries(), 0);
  ASSERT_NE(Find(served_by), nullptr);
  EXPECT_EQ(Find(served_by)->calls, 1);
  EXPECT_FALSE(Find(served_by)->down);
}

TEST_F(FailoverTest, TypedErrorIsReturnedAsItIsAndNotRetried) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  FakeCall call = NewCall();
  servers_->outcome["a"] = AttemptOutcome{NotFound("poll 7 does not exist"), false};
  servers_->outcome["b"] = servers_->outcome["a"];
  std::string served_by;
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "poll 7 does not exist");
  EXPECT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(served_by, servers_->called[0]);
  EXPECT_EQ(failover_->retries(), 0);
  EXPECT_FALSE(Find(served_by)->down) << "a server that answered is not down";
}

TEST_F(FailoverTest, TransportFailureMarksDownAndRetriesOnceElsewhere) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  FakeCall call = NewCall();
  // Whichever server is picked first fails; the others answer.
  servers_->during = [&](const std::string& id) {
    if (servers_->called.size() == 1) servers_->outcome[id] = TransportFailure();
  };
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  ASSERT_EQ(servers_->called.size(), 2u);
  EXPECT_NE(servers_->called[0], servers_->called[1]);
  EXPECT_EQ(served_by, servers_->called[1]);
  EXPECT_EQ(failover_->retries(), 1);
  EXPECT_TRUE(Find(servers_->called[0])->down);
  EXPECT_EQ(Find(servers_->called[0])->failures, 1);
  EXPECT_FALSE(Find(servers_->called[1])->down);
}

TEST_F(FailoverTest, AllDownFailsAfterExactlyTwoAttemptsNamingTheLastServer) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  FakeCall call = NewCall();
  for (const char* id : {"a", "b", "c"})
    servers_->outcome[id] = TransportFailure("refused");
  std::string served_by = "stale";
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ASSERT_EQ(servers_->called.size(), 2u);
  EXPECT_NE(servers_->called[0], servers_->called[1]);
  EXPECT_NE(s.message().find("server " + servers_->called[1] + " failed: refused"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(served_by, "");
  EXPECT_EQ(failover_->retries(), 1);
}

TEST_F(FailoverTest, OnlyServerFailingReportsItsFailureNotNoServer) {
  registry_->SetInstances("prime", {Server("a", 1)});
  FakeCall call = NewCall();
  servers_->outcome["a"] = TransportFailure("reset by peer");
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(servers_->called, std::vector<std::string>{"a"})
      << "never the same server twice";
  EXPECT_NE(s.message().find("server a failed: reset by peer"), std::string::npos)
      << s.message();
  EXPECT_EQ(failover_->retries(), 1);
}

TEST_F(FailoverTest, NoServerMakesNoAttempt) {
  registry_->SetInstances("prime", {});
  FakeCall call = NewCall();
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("no live servers for service 'prime'"), std::string::npos)
      << s.message();
  EXPECT_TRUE(servers_->called.empty());
  EXPECT_EQ(failover_->retries(), 0);
}

TEST_F(FailoverTest, RegistryErrorOnFirstUseIsReturned) {
  FakeCall call = NewCall();
  Status s = failover_->Run("not a service!", call);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(servers_->called.empty());
}

TEST_F(FailoverTest, RetryUsesTheListThatChangedDuringTheCall) {
  registry_->SetInstances("prime", {Server("a", 1)});
  FakeCall call = NewCall();
  servers_->outcome["a"] = TransportFailure();
  // While the call to a is in flight, the registry replaces a with d; the
  // session's watch brings the new list before the attempt fails.
  servers_->during = [&](const std::string& id) {
    if (id != "a") return;
    const int64_t before = cache_->View("prime").version;
    registry_->SetInstances("prime", {Server("d", 4)});
    ASSERT_TRUE(PollUntil([&] { return cache_->View("prime").version != before; }));
  };
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(servers_->called, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(served_by, "d");
}

TEST_F(FailoverTest, SuccessAfterTheServerLeftTheListIsStillAnAnswer) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  FakeCall call = NewCall();
  servers_->during = [&](const std::string& id) {
    const int64_t before = cache_->View("prime").version;
    registry_->SetInstances("prime", {Server(id == "a" ? "b" : "a", 9)});
    ASSERT_TRUE(PollUntil([&] { return cache_->View("prime").version != before; }));
  };
  std::string served_by;
  EXPECT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(served_by, servers_->called[0]);
}

// Hedging. Fixed delays make the timeline exact; the fake clock moves only
// as the fake servers answer.

TEST_F(FailoverTest, HedgeAnswerWinsWhenTheFirstCopyIsSlow) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, 50000}, {1, 1000}};
  FakeCall call = NewCall();
  const int64_t start = clock_.NowMicros();
  std::string served_by;
  ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
  ASSERT_EQ(servers_->called.size(), 2u);
  EXPECT_NE(servers_->called[0], servers_->called[1]);
  EXPECT_EQ(served_by, servers_->called[1]);
  EXPECT_EQ(call.accepted, servers_->called[1]) << "the reply is the hedge's";
  EXPECT_EQ(clock_.NowMicros() - start, 6000) << "5 ms delay + 1 ms hedge";
  EXPECT_EQ(failover_->hedges_sent(), 1);
  EXPECT_EQ(failover_->hedges_won(), 1);
  EXPECT_EQ(failover_->retries(), 0);
  EXPECT_EQ(failover_->draining(), 1u) << "the slow copy is abandoned, not read";
  EXPECT_FALSE(Find(servers_->called[0])->down) << "slow is not down";
}

TEST_F(FailoverTest, FirstCopyAnsweringBeforeTheHedgeStillWins) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, 7000}, {1, 10000}};
  FakeCall call = NewCall();
  std::string served_by;
  ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(servers_->called.size(), 2u);
  EXPECT_EQ(served_by, servers_->called[0]);
  EXPECT_EQ(call.accepted, servers_->called[0]);
  EXPECT_EQ(failover_->hedges_sent(), 1);
  EXPECT_EQ(failover_->hedges_won(), 0);
  EXPECT_EQ(failover_->draining(), 1u) << "the hedge is the abandoned copy";
}

TEST_F(FailoverTest, NoHedgeWhenTheFirstCopyAnswersBeforeTheDelay) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, 4999}};
  FakeCall call = NewCall();
  const int64_t start = clock_.NowMicros();
  ASSERT_TRUE(failover_->Run("prime", call).ok());
  EXPECT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(clock_.NowMicros() - start, 4999);
  EXPECT_EQ(failover_->hedges_sent(), 0);
  EXPECT_EQ(failover_->draining(), 0u);
}

TEST_F(FailoverTest, AnswerBeforeTheDelayIsOneBoundedReadAndNoWaitOnSeveralCopies) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  for (int i = 0; i < 3; ++i) {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  EXPECT_EQ(servers_->bounded_waits, 3) << "one bounded read per call";
  EXPECT_EQ(waiter_.waits, 0) << "no poll on the common path";
  EXPECT_EQ(failover_->hedges_sent(), 0);
}

TEST_F(FailoverTest, HedgingOffReadsWithoutABound) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  HedgeOptions off;
  off.mode = HedgeMode::kOff;
  MakeFailover(off);
  FakeCall call = NewCall();
  ASSERT_TRUE(failover_->Run("prime", call).ok());
  EXPECT_EQ(servers_->bounded_waits, 0);
  EXPECT_EQ(waiter_.waits, 0);
}

TEST_F(FailoverTest, BoundedReadEndingEarlyStillHedgesExactlyAtTheDelay) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  MakeFailover(FixedHedge(5000));
  servers_->early_expiry_us = 3000;  // a coarse timer ends the read at 2 ms
  servers_->copy_latency_us = {{0, 50000}, {1, 1000}};
  FakeCall call = NewCall();
  const int64_t start = clock_.NowMicros();
  std::string served_by;
  ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(clock_.NowMicros() - start, 6000) << "5 ms delay + 1 ms hedge";
  EXPECT_EQ(servers_->bounded_waits, 1);
  EXPECT_GE(waiter_.waits, 1) << "the rest of the delay is waited on the copies";
  EXPECT_EQ(failover_->hedges_sent(), 1);
  EXPECT_EQ(served_by, servers_->called[1]);
}

TEST_F(FailoverTest, TypedErrorFromTheFirstCopyIsReturnedWithoutHedging) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->outcome["a"] = AttemptOutcome{NotFound("poll 7 does not exist"), false};
  servers_->outcome["b"] = servers_->outcome["a"];
  servers_->copy_latency_us = {{0, 1000}};
  FakeCall call = NewCall();
  std::string served_by;
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(served_by, servers_->called[0]);
  EXPECT_EQ(call.accepted, "") << "a typed error carries no reply";
  EXPECT_EQ(failover_->hedges_sent(), 0);
}

TEST_F(FailoverTest, TypedErrorArrivingFirstAfterTheHedgeIsTheAnswer) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->outcome["a"] = AttemptOutcome{Conflict("poll 7 is closed"), false};
  servers_->outcome["b"] = servers_->outcome["a"];
  servers_->copy_latency_us = {{0, 6000}, {1, 5000}};
  FakeCall call = NewCall();
  std::string served_by;
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kConflict);
  EXPECT_EQ(served_by, servers_->called[0]);
  EXPECT_EQ(failover_->hedges_sent(), 1);
  EXPECT_EQ(failover_->hedges_won(), 0);
}

TEST_F(FailoverTest, UnavailableAnswerWaitsForTheOtherCopyWhichMayStillDoTheCall) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  // The first copy's server answers "busy, nothing done" after the hedge
  // went out; the hedge then completes the call.
  servers_->copy_latency_us = {{0, 7000}, {1, 10000}};
  servers_->during = [&](const std::string& id) {
    if (id == servers_->called[0]) {
      servers_->outcome[id] = AttemptOutcome{Unavailable("database busy"), false};
    }
  };
  FakeCall call = NewCall();
  std::string served_by;
  ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(served_by, servers_->called[1]);
  EXPECT_EQ(call.accepted, servers_->called[1]);
  EXPECT_EQ(failover_->hedges_won(), 1);
  EXPECT_EQ(failover_->draining(), 0u);
  EXPECT_FALSE(Find(servers_->called[0])->down) << "it answered";
}

TEST_F(FailoverTest, UnavailableAnswerIsReturnedWhenTheOtherCopyFailsInTheTransport) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, 7000}, {1, 10000}};
  servers_->during = [&](const std::string& id) {
    servers_->outcome[id] = id == servers_->called[0]
                                ? AttemptOutcome{Unavailable("database busy"), false}
                                : TransportFailure("reset by peer");
  };
  FakeCall call = NewCall();
  std::string served_by;
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "database busy");
  EXPECT_EQ(served_by, servers_->called[0]);
  // The busy server is the only one left (the other failed): it is retried
  // until the retries run out, and is never marked down.
  EXPECT_EQ(failover_->busy_retries(), Failover::kMaxBusyRetries);
  for (size_t i = 2; i < servers_->called.size(); ++i) {
    EXPECT_EQ(servers_->called[i], servers_->called[0]) << i;
  }
  EXPECT_FALSE(Find(servers_->called[0])->down);
}

TEST_F(FailoverTest, BusyAnswerIsRetriedOnAnotherServerAfterABackoff) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  HedgeOptions off;
  off.mode = HedgeMode::kOff;
  MakeFailover(off);
  // The first copy's server waits 2 s for its database, then answers busy.
  servers_->copy_latency_us = {{0, 2'000'000}};
  servers_->during = [&](const std::string& id) {
    servers_->outcome[id] = servers_->called.size() == 1
                                ? AttemptOutcome{Unavailable("database busy"), false}
                                : AttemptOutcome{};
  };
  FakeCall call = NewCall();
  std::string served_by;
  const int64_t start = clock_.NowMicros();
  ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
  ASSERT_EQ(servers_->called.size(), 2u);
  EXPECT_NE(servers_->called[1], servers_->called[0]) << "another server";
  EXPECT_EQ(served_by, servers_->called[1]);
  EXPECT_EQ(call.accepted, servers_->called[1]);
  EXPECT_EQ(waiter_.empty_waits, 1);
  EXPECT_EQ(clock_.NowMicros() - start,
            2'000'000 + Failover::kBusyBackoffUs + kDefaultLatencyUs);
  EXPECT_EQ(failover_->busy_retries(), 1);
  EXPECT_EQ(failover_->retries(), 1);
  EXPECT_EQ(failover_->draining(), 0u);
  EXPECT_EQ(servers_->live_attempts, 0);
  EXPECT_FALSE(Find(servers_->called[0])->down) << "busy is an answer, not a failure";
}

TEST_F(FailoverTest, BusyOnlyServerIsRetriedItself) {
  registry_->SetInstances("prime", {Server("a", 1)});
  MakeFailover(FixedHedge(5000));
  servers_->outcome["a"] = AttemptOutcome{Unavailable("database busy"), false};
  servers_->during = [&](const std::string&) {
    if (servers_->called.size() == 3) servers_->outcome["a"] = AttemptOutcome{};
  };
  FakeCall call = NewCall();
  ASSERT_TRUE(failover_->Run("prime", call).ok());
  EXPECT_EQ(servers_->called, (std::vector<std::string>{"a", "a", "a"}));
  EXPECT_EQ(failover_->busy_retries(), 2);
  EXPECT_EQ(call.accepted, "a");
}

TEST_F(FailoverTest, BusyRetriesStopWhenTheDeadlineLeavesNoRoomAndReturnTheLastBusy) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  HedgeOptions off;
  off.mode = HedgeMode::kOff;
  MakeFailover(off);
  // Every answer is "busy" after 2.2 s: a retry at 2.22 s, answered busy at
  // 4.42 s; after the 40 ms backoff 0.54 s are left, more than the 250 ms
  // of room a retry needs, so a second retry goes out (an answer as slow as
  // the busy one would not fit: the rule before) and is abandoned at the
  // 5 s deadline.
  for (const char* id : {"a", "b", "c"}) {
    servers_->latency_us[id] = 2'200'000;
    servers_->outcome[id] = AttemptOutcome{Unavailable(std::string("busy ") + id), false};
  }
  FakeCall call = NewCall();
  std::string served_by;
  const int64_t start = clock_.NowMicros();
  Status s = failover_->Run("prime", call, &served_by);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ASSERT_EQ(servers_->called.size(), 3u);
  EXPECT_EQ(s.message(), "busy " + servers_->called[1]) << "the last busy answer";
  EXPECT_EQ(served_by, servers_->called[1]);
  EXPECT_EQ(failover_->busy_retries(), 2);
  EXPECT_EQ(clock_.NowMicros() - start, kTimeoutUs);
  EXPECT_EQ(failover_->draining(), 1u) << "the second retry may still answer";
}

TEST_F(FailoverTest, BusyRetryNeedsRoomBeforeTheDeadline) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  HedgeOptions off;
  off.mode = HedgeMode::kOff;
  MakeFailover(off);
  // Busy after 4.8 s: 0.2 s are left, less than the backoff plus the room
  // a retry needs (250 ms): the busy answer is returned at once.
  for (const char* id : {"a", "b"}) {
    servers_->latency_us[id] = 4'800'000;
    servers_->outcome[id] = AttemptOutcome{Unavailable(std::string("busy ") + id), false};
  }
  FakeCall call = NewCall();
  const int64_t start = clock_.NowMicros();
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(failover_->busy_retries(), 0);
  EXPECT_EQ(clock_.NowMicros() - start, 4'800'000);
  EXPECT_EQ(servers_->live_attempts, 0);
}

TEST_F(FailoverTest, BusyRetriesAreBoundedEvenWhenAnswersAreFast) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  for (const char* id : {"a", "b"})
    servers_->outcome[id] = AttemptOutcome{Unavailable("shutting down"), false};
  FakeCall call = NewCall();
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(servers_->called.size(), 1u + Failover::kMaxBusyRetries);
  EXPECT_EQ(failover_->busy_retries(), Failover::kMaxBusyRetries);
  EXPECT_EQ(waiter_.empty_waits, Failover::kMaxBusyRetries) << "each after a backoff";
}

TEST_F(FailoverTest, BusyRetryNotAnsweredByTheDeadlineIsAbandonedNotFailed) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  HedgeOptions off;
  off.mode = HedgeMode::kOff;
  MakeFailover(off);
  // Busy after 1 s; the retry's server then takes 4.5 s (it waits on the
  // lock): the call ends at its 5 s deadline with the busy answer.
  servers_->copy_latency_us = {{0, 1'000'000}, {1, 4'500'000}};
  servers_->during = [&](const std::string& id) {
    if (id == servers_->called[0])
      servers_->outcome[id] = AttemptOutcome{Unavailable("database busy"), false};
  };
  FakeCall call = NewCall();
  const int64_t start = clock_.NowMicros();
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "database busy");
  EXPECT_EQ(clock_.NowMicros() - start, kTimeoutUs);
  EXPECT_EQ(failover_->draining(), 1u) << "the retry may still answer";
  const std::string retried = servers_->called[1];
  clock_.AdvanceMillis(1000);
  FakeCall next = NewCall();
  ASSERT_TRUE(failover_->Run("prime", next).ok());
  EXPECT_EQ(failover_->draining(), 0u);
  EXPECT_FALSE(Find(retried)->down) << "drained: it answered";
}

TEST_F(FailoverTest, OtherTypedErrorsAreNeverRetried) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  for (const Status& error :
       {InvalidArgument("bad option"), NotFound("no poll"), Conflict("closed"),
        AlreadyExists("poll"), Internal("boom")}) {
    servers_->called.clear();
    for (const char* id : {"a", "b"})
      servers_->outcome[id] = AttemptOutcome{error, false};
    FakeCall call = NewCall();
    EXPECT_EQ(failover_->Run("prime", call).code(), error.code());
    EXPECT_EQ(servers_->called.size(), 1u) << error.ToString();
  }
  EXPECT_EQ(failover_->retries(), 0);
}

TEST_F(FailoverTest, HedgingOffNeverSendsASecondCopy) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  HedgeOptions off;
  off.mode = HedgeMode::kOff;
  MakeFailover(off);
  servers_->copy_latency_us = {{0, 3'000'000}};
  FakeCall call = NewCall();
  ASSERT_TRUE(failover_->Run("prime", call).ok());
  EXPECT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(failover_->hedges_sent(), 0);
  EXPECT_EQ(waiter_.waits, 0) << "an unhedged call only reads its one copy";
}

TEST_F(FailoverTest, OnlyServerIsNotHedgedAndTheCallWaitsForIt) {
  registry_->SetInstances("prime", {Server("a", 1)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, 20000}};
  FakeCall call = NewCall();
  std::string served_by;
  ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(served_by, "a");
  EXPECT_EQ(servers_->called.size(), 1u);
  EXPECT_EQ(failover_->hedges_sent(), 0);
}

TEST_F(FailoverTest, BudgetHoldsHedgesToTheBurstPlusTheRatio) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  HedgeOptions h = FixedHedge(1000, /*burst=*/3);
  h.budget_ratio = 0.1;
  MakeFailover(h);
  // Every server is slow for every call: each call would like a hedge.
  for (const char* id : {"a", "b", "c"}) servers_->latency_us[id] = 2000;
  constexpr int kCalls = 200;
  for (int i = 0; i < kCalls; ++i) {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok()) << i;
  }
  // 3 tokens at the start, 0.1 per call after: at most 3 + 20.
  EXPECT_LE(failover_->hedges_sent(), 23);
  EXPECT_GE(failover_->hedges_sent(), 20) << "the budget is spent, not hoarded";
  EXPECT_EQ(static_cast<int64_t>(servers_->called.size()),
            kCalls + failover_->hedges_sent());
}

TEST_F(FailoverTest, EmptyBudgetReadsThePlainWayAsNoHedgeCouldGoOut) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  HedgeOptions h = FixedHedge(1000, /*burst=*/1);
  h.budget_ratio = 0;  // one token, never refilled
  MakeFailover(h);
  for (const char* id : {"a", "b"}) servers_->latency_us[id] = 2000;
  {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  EXPECT_EQ(failover_->hedges_sent(), 1);
  EXPECT_EQ(servers_->bounded_waits, 1);
  const int waits = waiter_.waits;
  {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  EXPECT_EQ(failover_->hedges_sent(), 1);
  EXPECT_EQ(servers_->bounded_waits, 1) << "no bounded read without a token";
  EXPECT_EQ(waiter_.waits, waits + 1) << "only the drain check of the abandoned copy";
}

TEST_F(FailoverTest, AbandonedCopyIsDrainedByALaterCallAndReportedOnce) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, 30000}, {1, 1000}};
  {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  const std::string slow = servers_->called[0];
  EXPECT_EQ(servers_->live_attempts, 1) << "the abandoned copy keeps its connection";
  EXPECT_EQ(Find(slow)->calls, 0) << "no outcome yet for the unanswered copy";
  clock_.AdvanceMillis(50);  // its answer has arrived meanwhile
  {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  EXPECT_EQ(failover_->draining(), 0u);
  EXPECT_EQ(servers_->live_attempts, 0) << "drained: its connection is released";
  EXPECT_EQ(Find(slow)->calls, 1 + (servers_->called[2] == slow ? 1 : 0));
  EXPECT_FALSE(Find(slow)->down);
}

TEST_F(FailoverTest, AbandonedCopyPastTheTimeoutIsClosedAndReportedAsFailed) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, kNever}, {1, 1000}};
  {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  const std::string stalled = servers_->called[0];
  clock_.AdvanceMicros(kTimeoutUs);
  {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  EXPECT_EQ(failover_->draining(), 0u);
  EXPECT_EQ(servers_->live_attempts, 0) << "closed, not leaked";
  EXPECT_EQ(Find(stalled)->failures, 1);
  EXPECT_TRUE(Find(stalled)->down);
}

TEST_F(FailoverTest, EndingTheSessionClosesAbandonedCopies) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->copy_latency_us = {{0, kNever}, {1, 1000}};
  FakeCall call = NewCall();
  ASSERT_TRUE(failover_->Run("prime", call).ok());
  EXPECT_EQ(servers_->live_attempts, 1);
  const std::string stalled = servers_->called[0];
  failover_.reset();
  EXPECT_EQ(servers_->live_attempts, 0);
  EXPECT_EQ(Find(stalled)->failures, 1) << "every picked copy gets an outcome";
}

TEST_F(FailoverTest, ServerWithAnAbandonedCopyIsAvoidedSoAStallCostsOneHedge) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2), Server("c", 3)});
  MakeFailover(FixedHedge(2000));
  servers_->latency_us["c"] = 3'000'000;  // c is stopped for 3 s
  for (int i = 0; i < 60; ++i) {
    FakeCall call = NewCall();
    std::string served_by;
    ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
    EXPECT_NE(served_by, "c");
  }
  EXPECT_LE(failover_->hedges_sent(), 1);
  EXPECT_LE(std::count(servers_->called.begin(), servers_->called.end(), "c"), 1);
}

TEST_F(FailoverTest, BothCopiesUnansweredFailTheCallAtTheTimeout) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->latency_us = {{"a", kNever}, {"b", kNever}};
  FakeCall call = NewCall();
  const int64_t start = clock_.NowMicros();
  Status s = failover_->Run("prime", call);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("server " + servers_->called[1] + " failed"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(clock_.NowMicros() - start, kTimeoutUs + 5000);
  EXPECT_TRUE(Find("a")->down);
  EXPECT_TRUE(Find("b")->down);
  EXPECT_EQ(servers_->live_attempts, 0);
}

TEST_F(FailoverTest, TransportFailureOfTheFirstCopyLeavesTheHedgeAsTheRetry) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(FixedHedge(5000));
  servers_->outcome["a"] = TransportFailure("reset by peer");
  servers_->outcome["b"] = servers_->outcome["a"];
  // The first copy fails after 8 ms, while the hedge (sent at 5) is out.
  servers_->copy_latency_us = {{0, 8000}, {1, 10000}};
  servers_->during = [&](const std::string& id) {
    if (id != servers_->called[0]) servers_->outcome[id] = AttemptOutcome{};
  };
  FakeCall call = NewCall();
  std::string served_by;
  ASSERT_TRUE(failover_->Run("prime", call, &served_by).ok());
  EXPECT_EQ(servers_->called.size(), 2u) << "no third copy";
  EXPECT_EQ(served_by, servers_->called[1]);
  EXPECT_EQ(failover_->hedges_won(), 1);
  EXPECT_TRUE(Find(servers_->called[0])->down);
}

TEST_F(FailoverTest, AutoDelayFollowsTheObservedLatency) {
  registry_->SetInstances("prime", {Server("a", 1), Server("b", 2)});
  MakeFailover(HedgeOptions{});  // auto
  EXPECT_EQ(failover_->hedge_delay_us("prime"), HedgeDelay::kColdUs);
  for (const char* id : {"a", "b"}) servers_->latency_us[id] = 3000;
  for (int i = 0; i < 100; ++i) {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  EXPECT_EQ(failover_->hedge_delay_us("prime"), 3000);
  EXPECT_EQ(failover_->hedges_sent(), 0) << "steady latency is never hedged";
  for (const char* id : {"a", "b"}) servers_->latency_us[id] = 100;
  // A full window of new samples and a recompute after it.
  for (size_t i = 0; i < HedgeDelay::kWindow + HedgeDelay::kRecomputeEvery; ++i) {
    FakeCall call = NewCall();
    ASSERT_TRUE(failover_->Run("prime", call).ok());
  }
  EXPECT_EQ(failover_->hedge_delay_us("prime"), HedgeDelay::kFloorUs);
}

}  // namespace
}  // namespace beacon::client
