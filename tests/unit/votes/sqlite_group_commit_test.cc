// SqliteVoteStore's group commit and background checkpoints, seen through
// the VoteStore calls: each request of a batch gets its own answer, commits
// never checkpoint, the WAL stays bounded under sustained load, and a
// process killed while it writes (checkpoints running) loses no
// acknowledged vote.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"
#include "votes/sqlite_vote_store.h"
#include "votes/writer_turn.h"

namespace beacon::votes {
namespace {

using Clock = std::chrono::steady_clock;
const std::vector<std::string> kOptions = {"red", "green", "blue"};

std::unique_ptr<SqliteVoteStore> OpenOrDie(const std::string& path,
                                           SqliteOptions options) {
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Polls `done` until it holds or 10 s pass.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

TEST(SqliteGroupCommit, MixedBatchGivesEachWaiterItsOwnAnswer) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  SqliteOptions options;
  options.busy_deadline_ms = 20'000;
  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, options);
  ASSERT_NE(store, nullptr);
  const int64_t poll = store->CreatePoll("q", kOptions, "", 1)->poll_id;
  const int64_t closed = store->CreatePoll("closed", kOptions, "", 1)->poll_id;
  ASSERT_TRUE(store->ClosePoll(closed).ok());
  const Receipt bob = *store->CastVote(poll, "bob", "red", "r1", 10);
  ASSERT_TRUE(store->CastVote(poll, "carol", "green", "r1", 11).ok());

  // Another connection holds the write lock: the first write leads and waits
  // for the lock; every write after it queues behind and joins its batch.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const int64_t batches_before = store->stats().write_batches;
  auto plug = std::async(std::launch::async,
                         [&] { return store->CastVote(poll, "plug", "red", "r1", 20); });
  std::vector<std::future<Result<Receipt>>> votes;
  std::vector<std::future<Result<Poll>>> polls;
  auto queue_next = [&](auto call, auto& into) {
    const int64_t queued = store->stats().queued_writes;
    into.push_back(std::async(std::launch::async, call));
    ASSERT_TRUE(Eventually([&] { return store->stats().queued_writes == queued + 1; }));
  };
  ASSERT_TRUE(Eventually([&] { return store->stats().queued_writes == 1; }));
  const auto vote = [&](int64_t p, const char* voter, const char* option) {
    return [&store, p, voter, option] {
      return store->CastVote(p, voter, option, "r1", 30);
    };
  };
  queue_next(vote(poll, "alice", "red"), votes);    // 0: new
  queue_next(vote(poll, "bob", "red"), votes);      // 1: identical repeat
  queue_next(vote(poll, "carol", "blue"), votes);   // 2: conflicting
  queue_next(vote(poll, "dave", "purple"), votes);  // 3: not an option
  queue_next(vote(999999, "erin", "red"), votes);   // 4: unknown poll
  queue_next(vote(closed, "frank", "red"), votes);  // 5: closed poll
  queue_next(vote(poll, "alice", "red"), votes);    // 6: repeats 0, same batch
  queue_next(vote(poll, "alice", "green"), votes);  // 7: contradicts 0, same batch
  queue_next([&] { return store->CreatePoll("new", {"x", "y"}, "req-1", 40); }, polls);
  queue_next([&] { return store->CreatePoll("new", {"x", "y"}, "req-1", 41); }, polls);
  queue_next([&] { return store->CreatePoll("bad", {"x", "x"}, "", 42); }, polls);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  ASSERT_TRUE(plug.get().ok());
  std::vector<Result<Receipt>> v;
  for (auto& f : votes) v.push_back(f.get());
  std::vector<Result<Poll>> p;
  for (auto& f : polls) p.push_back(f.get());

  // One batch: the plug and all eleven.
  EXPECT_EQ(store->stats().write_batches, batches_before + 1);
  EXPECT_EQ(store->stats().largest_batch, 12);

  ASSERT_TRUE(v[0].ok()) << v[0].status().ToString();
  EXPECT_FALSE(v[0]->repeated);
  ASSERT_TRUE(v[1].ok()) << v[1].status().ToString();
  EXPECT_TRUE(v[1]->repeated);
  EXPECT_EQ(v[1]->vote_id, bob.vote_id);
  EXPECT_EQ(v[1]->cast_at_ms, 10);
  EXPECT_EQ(v[2].status().code(), StatusCode::kAlreadyVoted) << v[2].status().ToString();
  EXPECT_EQ(v[3].status().code(), StatusCode::kInvalidArgument)
      << v[3].status().ToString();
  EXPECT_EQ(v[4].status().code(), StatusCode::kNotFound) << v[4].status().ToString();
  EXPECT_EQ(v[5].status().code(), StatusCode::kConflict) << v[5].status().ToString();
  ASSERT_TRUE(v[6].ok()) << v[6].status().ToString();
  EXPECT_TRUE(v[6]->repeated);
  EXPECT_EQ(v[6]->vote_id, v[0]->vote_id);
  EXPECT_EQ(v[7].status().code(), StatusCode::kAlreadyVoted) << v[7].status().ToString();
  ASSERT_TRUE(p[0].ok()) << p[0].status().ToString();
  ASSERT_TRUE(p[1].ok()) << p[1].status().ToString();
  EXPECT_EQ(p[1]->poll_id, p[0]->poll_id);
  // Duplicate options break the options' unique key after the poll row was
  // inserted: its savepoint undoes the poll, and nobody else is affected.
  EXPECT_EQ(p[2].status().code(), StatusCode::kInternal) << p[2].status().ToString();
  EXPECT_EQ(store->ListPolls(10)->size(), 3u);  // poll, closed, new

  Result<PollResults> results = store->Results(poll);
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->counts[0].votes, 3);  // bob, plug, alice
  EXPECT_EQ(results->counts[1].votes, 1);  // carol
  EXPECT_EQ(results->counts[2].votes, 0);
}

// The writer turn another process would hold (here: another object on the
// same file, taken by this thread).
std::unique_ptr<WriterTurn> TakeTurn(const std::string& db_path) {
  auto turn =
      WriterTurn::Open(db_path + "-writer", Clock::now() + std::chrono::seconds(5));
  EXPECT_TRUE(turn.ok()) << turn.status().ToString();
  if (!turn.ok()) return nullptr;
  EXPECT_TRUE((*turn)->Acquire(Clock::now() + std::chrono::seconds(5)).ok());
  return std::move(turn).value();
}

TEST(SqliteWriterTurn, WritesQueuedWhileTheLeaderWaitsForTheTurnJoinItsBatch) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  SqliteOptions options;
  options.busy_deadline_ms = 20'000;
  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, options);
  ASSERT_NE(store, nullptr);
  const int64_t poll = store->CreatePoll("q", kOptions, "", 1)->poll_id;
  std::unique_ptr<WriterTurn> held = TakeTurn(path);
  ASSERT_NE(held, nullptr);
  const int64_t batches_before = store->stats().write_batches;
  std::vector<std::future<Result<Receipt>>> votes;
  for (int i = 0; i < 5; ++i) {
    votes.push_back(std::async(std::launch::async, [&store, poll, i] {
      return store->CastVote(poll, "voter-" + std::to_string(i), "red", "r1", 10);
    }));
    ASSERT_TRUE(Eventually([&] { return store->stats().queued_writes == i + 1; }));
  }
  // The leader blocks on the turn, not in SQLite's busy handler.
  ASSERT_TRUE(Eventually([&] { return store->stats().turn_waits == 1; }));
  held->Release();
  for (auto& v : votes) EXPECT_TRUE(v.get().ok());
  EXPECT_EQ(store->stats().write_batches, batches_before + 1);
  EXPECT_EQ(store->stats().largest_batch, 5);
  EXPECT_EQ(store->Results(poll)->total, 5);
}

TEST(SqliteWriterTurn, TurnHeldPastTheDeadlineFailsTheWriteAsBusyAndStoresNothing) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  SqliteOptions options;
  options.busy_deadline_ms = 100;
  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, options);
  ASSERT_NE(store, nullptr);
  const int64_t poll = store->CreatePoll("q", kOptions, "", 1)->poll_id;
  std::unique_ptr<WriterTurn> held = TakeTurn(path);
  ASSERT_NE(held, nullptr);
  const auto start = Clock::now();
  Result<Receipt> vote = store->CastVote(poll, "alice", "red", "r1", 10);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(100));
  EXPECT_EQ(vote.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(vote.status().message(), "database busy for 100 ms");
  EXPECT_EQ(store->stats().turn_timeouts, 1);
  held->Release();
  EXPECT_EQ(store->Results(poll)->total, 0);
}

TEST(SqliteWriterTurn, CorruptTurnFileFailsOpenWithATypedErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  {
    std::ofstream corrupt(path + "-writer");
    corrupt << "not a turn file";
  }
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path, {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInternal);
  EXPECT_NE(store.status().message().find(path + "-writer"), std::string::npos)
      << store.status().message();
}

TEST(SqliteWriterTurn, WithoutTheTurnNoTurnFileIsMade) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  SqliteOptions options;
  options.writer_turn = false;
  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->CreatePoll("q", kOptions, "", 1).ok());
  EXPECT_FALSE(std::filesystem::exists(path + "-writer"));
}

TEST(SqliteCheckpoints, CommitsNeverCheckpoint) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  SqliteOptions options;
  options.checkpoint_after_frames = 1'000'000;  // the background never runs
  options.restart_checkpoint_after_frames = 2'000'000;
  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, options);
  ASSERT_NE(store, nullptr);
  const int64_t poll = store->CreatePoll("q", kOptions, "", 1)->poll_id;
  for (int i = 0; i < 1500; ++i) {
    ASSERT_TRUE(store->CastVote(poll, "v" + std::to_string(i), "red", "r", i).ok());
  }
  // SQLite's automatic checkpoint would have rewound the WAL at 1,000 pages.
  EXPECT_GT(store->stats().largest_wal_frames, 1500);
  EXPECT_EQ(store->stats().passive_checkpoints + store->stats().restart_checkpoints, 0);
}

TEST(SqliteCheckpoints, RestartWaitOutsideOneToTheBusyDeadlineIsRefused) {
  TempDir dir;
  for (int wait_ms : {0, -5, 2001}) {
    SqliteOptions options;
    options.busy_deadline_ms = 2000;
    options.restart_checkpoint_wait_ms = wait_ms;
    auto store = SqliteVoteStore::Open(dir.File("votes.db"), options);
    ASSERT_FALSE(store.ok()) << wait_ms;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.status().message().find("restart_checkpoint_wait_ms"),
              std::string::npos);
  }
}

TEST(SqliteCheckpoints, WalStaysUnderItsBoundDuringALongRun) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  SqliteOptions options;
  options.busy_deadline_ms = 20'000;
  options.checkpoint_after_frames = 100;
  options.restart_checkpoint_after_frames = 400;
  // The bound below is the pacing's: it holds while RESTARTs run. Its
  // reader's transactions are short, but on a machine busy with other tests
  // one can last past the default 100 ms RESTART wait, and a RESTART that
  // gives up backs off with no pacing while the WAL grows (by design, for a
  // reader that keeps its snapshot: WalCheckpointerTest covers that). So
  // here a RESTART waits as long as a writer would.
  options.restart_checkpoint_wait_ms = options.busy_deadline_ms;
  // Two stores on one file, as two replicas, with writers and a reader.
  std::unique_ptr<SqliteVoteStore> a = OpenOrDie(path, options);
  std::unique_ptr<SqliteVoteStore> b = OpenOrDie(path, options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const int64_t poll = a->CreatePoll("q", kOptions, "", 1)->poll_id;
  const int64_t page = 4096 + 24;  // a WAL frame: page and header
  // The bound: writers pace themselves from twice the RESTART trigger on;
  // plus what paced writers add until the checkpoint ends, taken
  // generously as the trigger again.
  const int64_t bound = 32 + 3 * options.restart_checkpoint_after_frames * page;

  std::atomic<bool> stop{false};
  std::atomic<int64_t> largest_wal{0}, failures{0};
  std::thread watcher([&] {
    while (!stop) {
      const int64_t size = FileSize(path + "-wal");
      if (size > largest_wal) largest_wal = size;
      std::this_thread::yield();
    }
  });
  std::thread reader([&] {
    while (!stop) {
      if (!b->Results(poll).ok()) ++failures;
    }
  });
  constexpr int kThreads = 6, kVotesPerThread = 2500;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      SqliteVoteStore& store = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kVotesPerThread; ++i) {
        const std::string voter = std::to_string(t) + "-" + std::to_string(i);
        if (!store.CastVote(poll, voter, kOptions[static_cast<size_t>(i) % 3], "r", i)
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& w : writers) w.join();
  stop = true;
  reader.join();
  watcher.join();

  EXPECT_EQ(failures, 0);
  EXPECT_EQ(a->Results(poll)->total, kThreads * kVotesPerThread);
  const SqliteStats sa = a->stats(), sb = b->stats();
  std::printf(
      "[wal] largest %lld bytes (bound %lld); checkpoints passive %lld+%lld, "
      "restart %lld+%lld, skipped %lld+%lld, blocked %lld+%lld; paced batches "
      "%lld+%lld; "
      "largest batch %lld/%lld\n",
      static_cast<long long>(largest_wal.load()), static_cast<long long>(bound),
      static_cast<long long>(sa.passive_checkpoints),
      static_cast<long long>(sb.passive_checkpoints),
      static_cast<long long>(sa.restart_checkpoints),
      static_cast<long long>(sb.restart_checkpoints),
      static_cast<long long>(sa.skipped_checkpoints),
      static_cast<long long>(sb.skipped_checkpoints),
      static_cast<long long>(sa.blocked_restarts),
      static_cast<long long>(sb.blocked_restarts),
      static_cast<long long>(sa.paced_batches), static_cast<long long>(sb.paced_batches),
      static_cast<long long>(sa.largest_batch), static_cast<long long>(sb.largest_batch));
  EXPECT_GT(largest_wal, 0);
  EXPECT_LE(largest_wal, bound);
  EXPECT_GT(sa.passive_checkpoints + sb.passive_checkpoints + sa.restart_checkpoints +
                sb.restart_checkpoints,
            0);
  EXPECT_EQ(sa.failed_checkpoints + sb.failed_checkpoints, 0);
}

// A child process votes flat out with background checkpoints running and
// reports every acknowledged voter through a pipe; it is killed mid-run.
TEST(SqliteCheckpoints, ProcessKilledWhileWritingLosesNoAcknowledgedVote) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  SqliteOptions options;
  options.busy_deadline_ms = 20'000;
  options.checkpoint_after_frames = 50;
  options.restart_checkpoint_after_frames = 200;
  int64_t poll = 0;
  {
    std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, options);
    ASSERT_NE(store, nullptr);
    poll = store->CreatePoll("q", kOptions, "", 1)->poll_id;
  }  // closed before forking: a child must not inherit an SQLite connection
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path, options);
    if (!store.ok()) _exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int32_t i = t; i < 1'000'000; i += 4) {
          if ((*store)->CastVote(poll, std::to_string(i), "red", "child", i).ok()) {
            if (write(fds[1], &i, sizeof i) != sizeof i) _exit(3);
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    _exit(0);
  }
  close(fds[1]);
  std::set<int32_t> acked;
  int32_t voter = 0;
  while (acked.size() < 3000 && read(fds[0], &voter, sizeof voter) == sizeof voter) {
    acked.insert(voter);
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  while (read(fds[0], &voter, sizeof voter) == sizeof voter) acked.insert(voter);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended before it was killed";
  ASSERT_GE(acked.size(), 3000u);

  std::unique_ptr<SqliteVoteStore> store = OpenOrDie(path, options);
  ASSERT_NE(store, nullptr);
  int64_t missing = 0;
  for (int32_t v : acked) {
    Result<Receipt> again = store->CastVote(poll, std::to_string(v), "red", "checker", 0);
    if (!again.ok() || !again->repeated) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << acked.size() << " acknowledged votes";
}

}  // namespace
}  // namespace beacon::votes
