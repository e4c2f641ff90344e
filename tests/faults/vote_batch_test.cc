// Faults that meet a replica's group commit: a replica killed while its
// leader is inside a batched transaction, and a replica stopped (SIGSTOP)
// while it holds SQLite's write lock. Replicas on SQLite (the hold before
// COMMIT is an SQLite test aid).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <thread>

#include "Voting.h"
#include "client/session.h"
#include "cluster_checks.h"
#include "load_run.h"
#include "store_under_test.h"

namespace beacon {
namespace {

using faults::LoadRun;
using faults::MillisSince;
using faults::Scaled;
using testing::Cluster;

// Whether some connection holds the write lock on `db` now (probed without
// waiting; when nobody does, the probe takes and drops it at once).
bool WriteLockHeld(const std::string& db) {
  sqlite3* probe = nullptr;
  if (sqlite3_open(db.c_str(), &probe) != SQLITE_OK) {
    sqlite3_close(probe);
    return false;
  }
  const int rc = sqlite3_exec(probe, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) sqlite3_exec(probe, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(probe);
  return rc == SQLITE_BUSY;
}

// Casts a vote "held"/"yes" through `stopped` (started with
// --debug-hold-commit-us, so it holds the write lock a while), waits until
// the lock is held (10 s at most) and stops that replica with SIGSTOP inside
// the hold. Returns the vote's receipt to come (after SIGCONT); an invalid
// future when the signal could not be sent.
std::future<idl::VoteReceipt> StopInsideAHeldVote(Cluster& cluster,
                                                  testing::ReplicaProcess& stopped,
                                                  int64_t poll) {
  auto held_vote = std::async(std::launch::async, [&stopped, poll] {
    auto conn = stopped.Connect();
    idl::VoteReceipt receipt;
    conn->voting().castVote(receipt, poll, "held", "yes");
    return receipt;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!WriteLockHeld(cluster.db()) && std::chrono::steady_clock::now() < deadline) {
  }
  if (!stopped.process().Signal(SIGSTOP)) return {};
  return held_vote;
}

TEST(VoteBatch, SigkillInsideABatchLosesNoAcknowledgedVoteAndLeavesNoneWithoutReceipt) {
  Cluster cluster(0, {"--lease-ttl-ms", "1000"});
  // The victim holds each batch's transaction open 20 ms before COMMIT, so
  // its votes queue up into batches and a kill lands inside one.
  auto& victim = cluster.AddReplica({"--debug-hold-commit-us", "20000"});
  cluster.AddReplica();
  cluster.AddReplica();
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  ASSERT_TRUE(cluster.WaitForInstances("voting", 3, Scaled(10000)));
  const std::vector<std::string> options = {"red", "green", "blue"};
  const int64_t poll_id = faults::CreatePoll(*cluster.replicas()[1], "Batch?", options);
  ASSERT_GT(poll_id, 0);

  faults::LoadRunOptions load_options =
      faults::StandardLoad(cluster.registry().port(), poll_id, options);
  load_options.sessions = 16;
  LoadRun load(load_options);
  ASSERT_TRUE(load.WaitForCalls(600, Scaled(30000))) << load.calls();
  // Kill when the write lock is held, which is nearly always the victim
  // inside its 20 ms hold (the others hold it for well under a millisecond).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!WriteLockHeld(cluster.db()) && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_TRUE(victim.process().Signal(SIGKILL));
  ASSERT_TRUE(victim.process().WaitForExit(5000).has_value());

  const int64_t calls_after_kill = load.calls();
  EXPECT_TRUE(load.WaitForCalls(calls_after_kill + 600, Scaled(30000))) << load.calls();
  load.Stop();
  faults::PrintRun("batch kill", load);

  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.inconsistencies(), 0);
  EXPECT_GT(load.served_by()[victim.id()], 0);
  EXPECT_GT(load.retries(), 0) << "the kill hit no call in flight";
  // Exactly the acknowledged votes are counted: none lost, and none stored
  // without a receipt (a vote committed just before the kill was retried
  // elsewhere and answered with its original receipt).
  EXPECT_TRUE(
      faults::TallyMatchesReceipts(*cluster.replicas()[1], poll_id, load.votes()));
}

// The README's known limit, measured: a stopped replica holding the write
// lock stops every replica's writes; each gives up with UNAVAILABLE at its
// busy deadline; nothing is lost, and writes resume when it continues.
TEST(VoteBatch, StoppedReplicaHoldingTheWriteLockStallsOtherWritersUntilTheirDeadline) {
  constexpr int kBusyTimeoutMs = 1000;
  Cluster cluster(0);
  auto& stopped =
      cluster.AddReplica({"--debug-hold-commit-us", "300000", "--busy-timeout-ms",
                          std::to_string(kBusyTimeoutMs)});
  auto& other = cluster.AddReplica({"--busy-timeout-ms", std::to_string(kBusyTimeoutMs)});
  ASSERT_TRUE(stopped.ok() && other.ok());
  const int64_t poll = faults::CreatePoll(other, "Stopped?", {"yes", "no"});
  ASSERT_GT(poll, 0);

  // A vote through `stopped` takes the lock and holds it 300 ms; stop the
  // replica inside that hold.
  std::future<idl::VoteReceipt> held_vote = StopInsideAHeldVote(cluster, stopped, poll);
  ASSERT_TRUE(held_vote.valid());
  ASSERT_TRUE(WriteLockHeld(cluster.db()));

  auto conn = other.Connect();
  ASSERT_NE(conn, nullptr);
  idl::VoteReceipt receipt;
  auto start = std::chrono::steady_clock::now();
  int code = -1;
  try {
    conn->voting().castVote(receipt, poll, "alice", "no");
  } catch (const idl::VotingError& e) {
    code = static_cast<int>(e.code);
  }
  const int64_t refused_ms = MillisSince(start);
  // Reads go on (WAL).
  idl::PollResults results;
  conn->voting().results(results, poll);
  EXPECT_EQ(results.total, 0);

  ASSERT_TRUE(stopped.process().Signal(SIGCONT));
  start = std::chrono::steady_clock::now();
  conn->voting().castVote(receipt, poll, "alice", "no");
  const int64_t resumed_ms = MillisSince(start);
  std::printf(
      "[stopped holder] other replica's vote: code %d after %lld ms (busy timeout "
      "%d ms); after SIGCONT a vote took %lld ms\n",
      code, static_cast<long long>(refused_ms), kBusyTimeoutMs,
      static_cast<long long>(resumed_ms));
  EXPECT_EQ(code, idl::ErrorCode::UNAVAILABLE);
  EXPECT_GE(refused_ms, kBusyTimeoutMs * 3 / 4);
  EXPECT_LE(refused_ms, kBusyTimeoutMs + Scaled(1500));
  EXPECT_FALSE(receipt.repeated);
  EXPECT_FALSE(held_vote.get().repeated);  // the stopped replica's vote committed
  conn->voting().results(results, poll);
  EXPECT_EQ(results.total, 2);
}

// The same stall seen from a client session: the other replica's busy answer
// (UNAVAILABLE, nothing done) is retried by the session's failover rule, on
// the stopped replica, which answers once it continues. The vote is slow,
// not failed. Hedging is off so that the busy retry, not a hedge, does it.
TEST(VoteBatch, SessionVoteOutlastsAStoppedLockHolderByRetryingTheBusyAnswer) {
  constexpr int kBusyTimeoutMs = 1000;
  constexpr int kPauseMs = 1500;  // past the other replica's busy deadline
  Cluster cluster(0, {"--lease-ttl-ms", "30000"});
  auto& stopped =
      cluster.AddReplica({"--debug-hold-commit-us", "300000", "--busy-timeout-ms",
                          std::to_string(kBusyTimeoutMs)});
  auto& other = cluster.AddReplica({"--busy-timeout-ms", std::to_string(kBusyTimeoutMs)});
  ASSERT_TRUE(stopped.ok() && other.ok());
  ASSERT_TRUE(cluster.WaitForInstances("voting", 2, Scaled(10000)));
  const int64_t poll = faults::CreatePoll(other, "Retried?", {"yes", "no"});
  ASSERT_GT(poll, 0);

  client::SessionOptions options;
  options.registries = {Endpoint{"127.0.0.1", cluster.registry().port()}};
  options.hedge.mode = client::HedgeMode::kOff;
  options.timeout_ms = 5000;
  auto created = client::Session::Create(options);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  client::Session& session = **created;
  // Round-robin over two: read until `stopped` served the latest call, so
  // the vote goes to `other` first and meets the lock there.
  const auto calls_on = [&](const std::string& id) -> int64_t {
    for (const auto& i : session.cache().View("voting").instances) {
      if (i.instance.id == id) return i.calls;
    }
    return -1;
  };
  ASSERT_TRUE(session.Results(poll).ok());  // the first call looks the list up
  for (int i = 0; i < 2; ++i) {
    const int64_t before = calls_on(stopped.id());
    ASSERT_TRUE(session.Results(poll).ok());
    if (calls_on(stopped.id()) > before) break;
  }

  std::future<idl::VoteReceipt> held_vote = StopInsideAHeldVote(cluster, stopped, poll);
  ASSERT_TRUE(held_vote.valid());
  const auto stopped_at = std::chrono::steady_clock::now();
  auto vote =
      std::async(std::launch::async, [&] { return session.CastVote(poll, "bob", "no"); });
  while (MillisSince(stopped_at) < kPauseMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(stopped.process().Signal(SIGCONT));
  const Result<idl::VoteReceipt> receipt = vote.get();
  const int64_t took_ms = MillisSince(stopped_at);
  std::printf("[stopped holder, session] vote %s after %lld ms, busy retries %lld\n",
              receipt.ok() ? "ok" : receipt.status().ToString().c_str(),
              static_cast<long long>(took_ms),
              static_cast<long long>(session.failover().busy_retries()));
  EXPECT_TRUE(receipt.ok()) << receipt.status().ToString();
  EXPECT_EQ(session.failover().busy_retries(), 1);
  EXPECT_GE(took_ms, kPauseMs);
  EXPECT_FALSE(held_vote.get().repeated);
  idl::PollResults results;
  other.Connect()->voting().results(results, poll);
  EXPECT_EQ(results.total, 2);
}

}  // namespace
}  // namespace beacon
