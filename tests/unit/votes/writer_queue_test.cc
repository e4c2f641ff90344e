// WriterQueue on its own, with a fake batch runner: arrival order, batch
// bounds, deadlines, and every job completed exactly once.
#include "votes/writer_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace beacon::votes {
namespace {

using Clock = WriterQueue::Clock;

struct NamedJob final : WriterQueue::Job {
  NamedJob(std::string n, size_t bytes, Clock::time_point deadline)
      : Job(bytes, deadline), name(std::move(n)) {}
  std::string name;
  std::string outcome;  // set by the runner
};

Clock::time_point Later() { return Clock::now() + std::chrono::seconds(30); }

// A runner that records every batch and, while held, blocks in each batch
// until that batch is let go (ReleaseOne, in order) or all are (Release).
// It takes its batch before blocking, or after (prepare_first_: as the
// database runner does, which takes the lock first); with fail_to_prepare_
// it takes the leader alone.
class FakeRunner {
 public:
  void Run(WriterQueue::Job& leader, const WriterQueue::TakeBatch& take) {
    std::unique_lock<std::mutex> lock(mu_);
    const WriterQueue::Batch* taken = nullptr;
    if (!prepare_first_) {
      lock.unlock();
      taken = &take(true);
      lock.lock();
    }
    const size_t index = started_++;
    running_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !hold_ || released_ > index; });
    running_ = false;
    if (prepare_first_) {
      lock.unlock();
      taken = &take(!fail_to_prepare_);
      lock.lock();
    }
    EXPECT_EQ(taken->front(), &leader);
    Record(*taken);
  }
  void PrepareFirst(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    prepare_first_ = true;
    fail_to_prepare_ = fail;
  }

 private:
  void Record(const WriterQueue::Batch& batch) {
    std::vector<std::string> names;
    for (WriterQueue::Job* job : batch) {
      auto* named = static_cast<NamedJob*>(job);
      named->outcome = "ran " + named->name;
      names.push_back(named->name);
    }
    batches_.push_back(names);
  }

 public:
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    changed_.notify_all();
  }
  void ReleaseOne() {
    std::lock_guard<std::mutex> lock(mu_);
    ++released_;
    changed_.notify_all();
  }
  void WaitUntilRunning() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return running_; });
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  size_t started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool hold_ = false;
  bool running_ = false;
  bool prepare_first_ = false;
  bool fail_to_prepare_ = false;
  size_t started_ = 0;   // batches begun
  size_t released_ = 0;  // batches let go while held
  std::vector<std::vector<std::string>> batches_;
};

class WriterQueueTest : public ::testing::Test {
 protected:
  void MakeQueue(WriterQueueLimits limits) {
    queue_ = std::make_unique<WriterQueue>(
        limits, [this](WriterQueue::Job& leader, const WriterQueue::TakeBatch& take) {
          runner_.Run(leader, take);
        });
  }

  // Submits `job` on a thread of its own once the queue holds `ahead` jobs,
  // so arrival order is known; returns after it is queued.
  void SubmitInTurn(NamedJob& job, Status* status) {
    const size_t ahead = queue_->queued();
    threads_.emplace_back([this, &job, status] { *status = queue_->Submit(job, 7); });
    while (queue_->queued() < ahead + 1) std::this_thread::yield();
  }

  void JoinAll() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  FakeRunner runner_;
  std::unique_ptr<WriterQueue> queue_;
  std::vector<std::thread> threads_;
};

TEST_F(WriterQueueTest, LoneJobRunsInABatchOfItsOwn) {
  MakeQueue({});
  NamedJob a("a", 10, Later());
  EXPECT_TRUE(queue_->Submit(a, 7).ok());
  EXPECT_EQ(a.outcome, "ran a");
  EXPECT_EQ(runner_.batches(), (std::vector<std::vector<std::string>>{{"a"}}));
  EXPECT_EQ(queue_->queued(), 0u);
}

TEST_F(WriterQueueTest, JobsQueuedWhileALeaderRunsFormTheNextBatchInArrivalOrder) {
  MakeQueue({});
  runner_.Hold();
  NamedJob a("a", 10, Later()), b("b", 10, Later()), c("c", 10, Later()),
      d("d", 10, Later());
  Status sa, sb, sc, sd;
  SubmitInTurn(a, &sa);
  runner_.WaitUntilRunning();
  SubmitInTurn(b, &sb);
  SubmitInTurn(c, &sc);
  SubmitInTurn(d, &sd);
  runner_.Release();
  JoinAll();
  for (const Status& s : {sa, sb, sc, sd}) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(runner_.batches(),
            (std::vector<std::vector<std::string>>{{"a"}, {"b", "c", "d"}}));
  for (NamedJob* j : {&a, &b, &c, &d}) EXPECT_EQ(j->outcome, "ran " + j->name);
  EXPECT_EQ(queue_->stats().batches, 2);
  EXPECT_EQ(queue_->stats().jobs, 4);
  EXPECT_EQ(queue_->stats().largest_batch, 3u);
}

TEST_F(WriterQueueTest, JobsQueuedWhileTheLeaderGetsReadyJoinItsBatch) {
  MakeQueue({});
  runner_.PrepareFirst(/*fail=*/false);
  runner_.Hold();
  NamedJob a("a", 10, Later()), b("b", 10, Later()), c("c", 10, Later());
  Status sa, sb, sc;
  SubmitInTurn(a, &sa);
  runner_.WaitUntilRunning();
  SubmitInTurn(b, &sb);
  SubmitInTurn(c, &sc);
  runner_.Release();
  JoinAll();
  EXPECT_EQ(runner_.batches(), (std::vector<std::vector<std::string>>{{"a", "b", "c"}}));
  for (NamedJob* j : {&a, &b, &c}) EXPECT_EQ(j->outcome, "ran " + j->name);
}

TEST_F(WriterQueueTest, LeaderThatCannotGetReadyRunsAloneAndTheNextInLineLeads) {
  MakeQueue({});
  runner_.PrepareFirst(/*fail=*/true);
  runner_.Hold();
  NamedJob a("a", 10, Later()), b("b", 10, Later()), c("c", 10, Later());
  Status sa, sb, sc;
  SubmitInTurn(a, &sa);
  runner_.WaitUntilRunning();
  SubmitInTurn(b, &sb);
  SubmitInTurn(c, &sc);
  runner_.Release();
  JoinAll();
  // Every leader fails to get ready here, so each runs alone, in order.
  EXPECT_EQ(runner_.batches(),
            (std::vector<std::vector<std::string>>{{"a"}, {"b"}, {"c"}}));
}

TEST_F(WriterQueueTest, BatchHoldsAtMostMaxBatchJobs) {
  MakeQueue({/*max_batch_jobs=*/2, /*max_batch_bytes=*/1000});
  runner_.Hold();
  std::vector<std::unique_ptr<NamedJob>> jobs;
  std::vector<Status> statuses(5);
  for (int i = 0; i < 5; ++i) {
    jobs.push_back(std::make_unique<NamedJob>(std::to_string(i), 10, Later()));
    SubmitInTurn(*jobs.back(), &statuses[static_cast<size_t>(i)]);
    if (i == 0) runner_.WaitUntilRunning();
  }
  runner_.Release();
  JoinAll();
  EXPECT_EQ(runner_.batches(),
            (std::vector<std::vector<std::string>>{{"0"}, {"1", "2"}, {"3", "4"}}));
}

TEST_F(WriterQueueTest, BatchHoldsAtMostMaxBatchBytesButAnOversizedJobStillRuns) {
  MakeQueue({/*max_batch_jobs=*/64, /*max_batch_bytes=*/100});
  runner_.Hold();
  NamedJob a("a", 10, Later()), b("b", 60, Later()), c("c", 40, Later()),
      d("d", 1, Later()), e("e", 500, Later());
  Status sa, sb, sc, sd, se;
  SubmitInTurn(a, &sa);
  runner_.WaitUntilRunning();
  SubmitInTurn(b, &sb);
  SubmitInTurn(c, &sc);
  SubmitInTurn(d, &sd);
  SubmitInTurn(e, &se);
  runner_.Release();
  JoinAll();
  EXPECT_EQ(runner_.batches(),
            (std::vector<std::vector<std::string>>{{"a"}, {"b", "c"}, {"d"}, {"e"}}));
  EXPECT_TRUE(se.ok());
}

TEST_F(WriterQueueTest, JobWhoseDeadlinePassesWhileQueuedNeverRunsAndIsUnavailable) {
  MakeQueue({});
  runner_.Hold();
  NamedJob a("a", 10, Later()), late("late", 10, Clock::now()), c("c", 10, Later());
  Status sa, slate, sc;
  SubmitInTurn(a, &sa);
  runner_.WaitUntilRunning();
  // Already past its deadline: it leaves the queue at once.
  slate = queue_->Submit(late, 7);
  EXPECT_EQ(slate.code(), StatusCode::kUnavailable);
  EXPECT_EQ(slate.message(), "database busy for 7 ms");
  SubmitInTurn(c, &sc);
  runner_.Release();
  JoinAll();
  EXPECT_TRUE(late.outcome.empty());
  EXPECT_EQ(runner_.batches(), (std::vector<std::vector<std::string>>{{"a"}, {"c"}}));
  EXPECT_EQ(queue_->stats().expired, 1);
}

TEST_F(WriterQueueTest, JobInARunningBatchWaitsForItPastItsDeadline) {
  MakeQueue({});
  runner_.Hold();
  NamedJob a("a", 10, Later());
  Status sa;
  SubmitInTurn(a, &sa);
  runner_.WaitUntilRunning();
  NamedJob b("b", 10, Clock::now() + std::chrono::milliseconds(50));
  Status sb;
  SubmitInTurn(b, &sb);
  runner_.ReleaseOne();  // a's batch ends; b leads its own, which is held
  // until well past b's deadline.
  while (runner_.started() < 2) std::this_thread::yield();
  while (Clock::now() < b.deadline() + std::chrono::milliseconds(20)) {
    std::this_thread::yield();
  }
  runner_.Release();
  JoinAll();
  EXPECT_TRUE(sb.ok()) << sb.ToString();
  EXPECT_EQ(b.outcome, "ran b");
}

TEST_F(WriterQueueTest, ManyThreadsEachGetTheirOwnOutcomeExactlyOnce) {
  MakeQueue({/*max_batch_jobs=*/4, /*max_batch_bytes=*/1000});
  constexpr int kThreads = 16, kJobsPerThread = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kJobsPerThread; ++i) {
        NamedJob job(std::to_string(t) + "/" + std::to_string(i), 10, Later());
        if (!queue_->Submit(job, 7).ok() || job.outcome != "ran " + job.name) {
          ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  size_t ran = 0;
  for (const auto& batch : runner_.batches()) {
    EXPECT_LE(batch.size(), 4u);
    ran += batch.size();
  }
  EXPECT_EQ(ran, static_cast<size_t>(kThreads * kJobsPerThread));
  EXPECT_EQ(queue_->queued(), 0u);
}

}  // namespace
}  // namespace beacon::votes
