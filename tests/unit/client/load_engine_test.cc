// The load engine with scripted workers: bounds (count, time, per worker,
// Stop), tallies (per operation, per replica, errors by code), set-up
// failures, progress, and phases that keep the workers alive.
#include "client/load_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace beacon::client {
namespace {

// Answers at once: calls alternate "a" and "b" operations; every
// `fail_every`-th call fails with `failure`; ok calls are served by
// "r<index>".
class ScriptedWorker final : public LoadWorker {
 public:
  ScriptedWorker(int index, int fail_every, Status failure, std::atomic<int>* alive)
      : index_(index),
        fail_every_(fail_every),
        failure_(std::move(failure)),
        alive_(alive) {
    if (alive_ != nullptr) ++*alive_;
  }
  ~ScriptedWorker() override {
    if (alive_ != nullptr) --*alive_;
  }
  CallOutcome Call() override {
    ++calls_;
    const char* op = calls_ % 2 ? "a" : "b";
    if (fail_every_ > 0 && calls_ % fail_every_ == 0) return {op, failure_, ""};
    return {op, Status::Ok(), "r" + std::to_string(index_)};
  }
  int64_t Retries() const override { return calls_ / 10; }
  std::map<std::string, int64_t> Counters() const override { return {{"lookups", 1}}; }

 private:
  const int index_;
  const int fail_every_;
  const Status failure_;
  std::atomic<int>* alive_;
  int64_t calls_ = 0;
};

LoadWorkerFactory Scripted(int fail_every = 0, Status failure = Unavailable("down"),
                           std::atomic<int>* alive = nullptr) {
  return [=](int index) -> Result<std::unique_ptr<LoadWorker>> {
    return std::unique_ptr<LoadWorker>(
        new ScriptedWorker(index, fail_every, failure, alive));
  };
}

LoadPhase Budget(int64_t calls) {
  LoadPhase p;
  p.seconds = 60;  // the bound that must not be the one reached
  p.max_calls = calls;
  return p;
}

TEST(LoadEngine, CallBudgetIsExactOverAllWorkers) {
  LoadEngine engine(4, Scripted());
  const LoadPhaseResult r = engine.Run(Budget(1001));
  EXPECT_EQ(r.tally.ok, 1001);
  EXPECT_EQ(r.tally.failed, 0);
  EXPECT_EQ(r.tally.latency.count(), 1001);
  EXPECT_EQ(engine.calls_completed(), 1001);
  int64_t per_replica = 0;
  for (const auto& [id, n] : r.tally.per_replica) per_replica += n;
  EXPECT_EQ(per_replica, 1001);
  EXPECT_GT(r.seconds, 0);
}

TEST(LoadEngine, TalliesByOperationReplicaAndErrorCode) {
  LoadEngine engine(1, Scripted(5, NotFound("poll 9 not found")));
  const LoadPhaseResult r = engine.Run(Budget(100));
  EXPECT_EQ(r.tally.ok, 80);
  EXPECT_EQ(r.tally.failed, 20);
  EXPECT_EQ(r.tally.errors_by_code, (std::map<std::string, int64_t>{{"not_found", 20}}));
  EXPECT_EQ(r.tally.latency_by_op.at("a").count(), 50);
  EXPECT_EQ(r.tally.latency_by_op.at("b").count(), 50);
  // Calls 5, 15, 25... ("a") and 10, 20... ("b") fail: 10 of each.
  EXPECT_EQ(r.tally.ok_by_op.at("a"), 40);
  EXPECT_EQ(r.tally.ok_by_op.at("b"), 40);
  EXPECT_EQ(r.tally.per_replica, (std::map<std::string, int64_t>{{"r0", 80}}));
  EXPECT_EQ(r.tally.first_error, "not_found: poll 9 not found");
  EXPECT_EQ(r.tally.counters, (std::map<std::string, int64_t>{{"lookups", 1}}));
  EXPECT_EQ(engine.retries(), 10);
  EXPECT_FALSE(r.tally.AllFailuresUnavailable());
}

TEST(LoadEngine, AllFailuresUnavailableOnlyWhenThereAreFailuresAndAllAreUnavailable) {
  LoadEngine engine(1, Scripted(2, Unavailable("server gone")));  // one: exact counts
  const LoadPhaseResult r = engine.Run(Budget(40));
  EXPECT_EQ(r.tally.failed, 20);
  EXPECT_TRUE(r.tally.AllFailuresUnavailable());
  LoadTally clean;
  EXPECT_FALSE(clean.AllFailuresUnavailable());
}

TEST(LoadEngine, PhaseEndsAtItsTimeWithoutABudget) {
  LoadEngine engine(2, Scripted());
  LoadPhase p;
  p.seconds = 0.05;
  const auto start = std::chrono::steady_clock::now();
  const LoadPhaseResult r = engine.Run(p);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(r.tally.ok, 0);
  EXPECT_GE(took, 0.05);
  EXPECT_LT(took, 10.0) << "the phase must stop by itself";
}

TEST(LoadEngine, PerWorkerBoundHoldsOverEveryPhase) {
  LoadEngine engine(3, Scripted(), /*max_calls_per_worker=*/10);
  LoadPhase warmup = Budget(12);
  warmup.counted = false;
  const LoadPhaseResult w = engine.Run(warmup);
  EXPECT_EQ(w.tally.calls(), 0) << "a warm-up is not tallied";
  EXPECT_EQ(engine.calls_completed(), 12);
  const LoadPhaseResult r = engine.Run(Budget(1000));
  EXPECT_EQ(r.tally.ok, 30 - 12);
  EXPECT_EQ(engine.calls_completed(), 30);
}

TEST(LoadEngine, StopFromAnotherThreadEndsTheRunningPhase) {
  LoadEngine engine(2, Scripted());
  std::thread stopper([&] {
    while (engine.calls_completed() < 100) std::this_thread::yield();
    engine.Stop();
  });
  LoadPhase p;
  p.seconds = 600;
  const LoadPhaseResult r = engine.Run(p);
  stopper.join();
  EXPECT_GE(r.tally.ok, 100);
  EXPECT_EQ(engine.Run(Budget(10)).tally.calls(), 0) << "nothing runs after Stop";
}

TEST(LoadEngine, SetupFailuresAreReportedAndMakeNoCalls) {
  LoadEngine engine(3, [](int index) -> Result<std::unique_ptr<LoadWorker>> {
    if (index == 1) return Unavailable("registry 127.0.0.1:1 unreachable");
    return std::unique_ptr<LoadWorker>(
        new ScriptedWorker(index, 0, Status::Ok(), nullptr));
  });
  ASSERT_EQ(engine.setup_errors().size(), 1u);
  EXPECT_EQ(engine.setup_errors()[0].code(), StatusCode::kUnavailable);
  const LoadPhaseResult r = engine.Run(Budget(100));
  EXPECT_EQ(r.tally.ok, 100);
  EXPECT_EQ(r.tally.per_replica.count("r1"), 0u);
}

TEST(LoadEngine, ProgressIsReportedWhileThePhaseRuns) {
  LoadEngine engine(1, [](int) -> Result<std::unique_ptr<LoadWorker>> {
    struct Slow final : LoadWorker {
      CallOutcome Call() override {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return {"slow", Status::Ok(), "r"};
      }
    };
    return std::unique_ptr<LoadWorker>(new Slow());
  });
  LoadPhase p;
  p.seconds = 0.2;
  p.progress_interval_s = 0.02;
  int reports = 0;
  int64_t last = -1;
  p.progress = [&](int64_t calls, double seconds) {
    ++reports;
    EXPECT_GE(calls, last);
    EXPECT_GT(seconds, 0);
    last = calls;
  };
  (void)engine.Run(p);
  EXPECT_GE(reports, 2);
}

TEST(LoadEngine, WorkersLiveFromConstructionToDestruction) {
  std::atomic<int> alive{0};
  {
    LoadEngine engine(4, Scripted(0, Status::Ok(), &alive));
    EXPECT_EQ(alive.load(), 4) << "created before the constructor returns";
    (void)engine.Run(Budget(10));
    EXPECT_EQ(alive.load(), 4) << "kept between phases";
  }
  EXPECT_EQ(alive.load(), 0);
}

}  // namespace
}  // namespace beacon::client
