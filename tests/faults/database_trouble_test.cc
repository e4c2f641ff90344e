// The shared database misbehaves: it cannot be written at all, or another
// process holds its write lock past a call's deadline.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "Voting.h"
#include "cluster_checks.h"

namespace beacon {
namespace {

using faults::MillisSince;
using testing::ChildProcess;
using testing::Cluster;

constexpr int kBusyTimeoutMs = 200;
// A refused call must come back soon after its deadline: the deadline plus
// scheduling on a loaded 2-core machine, nowhere near the client's 5 s.
int RefusalBoundMs() { return kBusyTimeoutMs + faults::Scaled(1500); }

struct UnusablePath {
  std::string why;
  std::string path;
};

TEST(DatabaseTrouble, UnwritableDatabaseExitsNonZeroWithTheReasonAndNeverRegisters) {
  Cluster cluster(0);
  ASSERT_TRUE(cluster.registry().ok());
  const std::string blocker = cluster.dir().File("regular-file");
  { std::ofstream(blocker) << "x"; }
  const std::string directory = cluster.dir().File("a-directory");
  ASSERT_EQ(::mkdir(directory.c_str(), 0755), 0);
  const std::string garbage = cluster.dir().File("garbage.db");
  {
    std::ofstream out(garbage);
    for (int i = 0; i < 512; ++i) out << "this is not an SQLite database\n";
  }
  std::vector<UnusablePath> cases = {
      {"parent is a regular file", blocker + "/votes.db"},
      {"path is a directory", directory},
      {"file is not a database", garbage},
      {"directory does not exist", cluster.dir().File("missing/dir/votes.db")},
  };
  if (::geteuid() != 0) {  // root writes through file modes
    const std::string read_only = cluster.dir().File("read-only.db");
    { std::ofstream(read_only) << ""; }
    ::chmod(read_only.c_str(), 0444);
    cases.push_back({"file is read-only", read_only});
  }
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.why);
    const auto started = std::chrono::steady_clock::now();
    auto replica = ChildProcess::Start(
        BEACON_REPLICA_SVC,
        {"--listen", "127.0.0.1:0", "--registry", cluster.registry().address(), "--db",
         c.path, "--busy-timeout-ms", "500"},
        cluster.dir().File("unwritable" + std::to_string(n++) + ".log"));
    ASSERT_NE(replica, nullptr);
    auto code = replica->WaitForExit(10000);
    ASSERT_TRUE(code.has_value()) << "still running with " << c.path;
    std::printf("[unwritable db] %s: exit %d after %lld ms\n", c.why.c_str(), *code,
                static_cast<long long>(MillisSince(started)));
    EXPECT_EQ(*code, 1);
    const std::string log = replica->Log();
    EXPECT_NE(log.find("cannot open database"), std::string::npos) << log;
    EXPECT_NE(log.find(c.path), std::string::npos)
        << "the message names the path: " << log;
    EXPECT_TRUE(cluster.RegistryClient()->Lookup("voting")->instances.empty());
    EXPECT_TRUE(cluster.RegistryClient()->Lookup("prime")->instances.empty());
  }
}

// Holds SQLite's write lock on the shared file from the test process.
class HeldWriteLock {
 public:
  explicit HeldWriteLock(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) return;
    sqlite3_busy_timeout(db_, 5000);
    char* error = nullptr;
    held_ = sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, &error) == SQLITE_OK;
    if (!held_) ADD_FAILURE() << "BEGIN EXCLUSIVE: " << (error ? error : "?");
    sqlite3_free(error);
  }
  ~HeldWriteLock() {
    Release();
    sqlite3_close(db_);
  }
  bool held() const { return held_; }
  void Release() {
    if (held_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    held_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
};

// Runs fn against the replica and returns the VotingError code it threw
// (-1 when it returned normally), with the elapsed time.
template <class F>
std::pair<int, int64_t> CodeOf(F&& fn) {
  const auto start = std::chrono::steady_clock::now();
  try {
    fn();
    return {-1, MillisSince(start)};
  } catch (const idl::VotingError& e) {
    return {static_cast<int>(e.code), MillisSince(start)};
  }
}

TEST(DatabaseTrouble, WriteThatCannotGetTheLockInTimeIsUnavailableAndChangesNothing) {
  Cluster cluster(1, {}, {"--busy-timeout-ms", std::to_string(kBusyTimeoutMs)});
  auto& replica = *cluster.replicas()[0];
  ASSERT_TRUE(replica.ok());
  ASSERT_TRUE(cluster.WaitForInstances("voting", 1));
  const int64_t poll = faults::CreatePoll(replica, "Locked?", {"yes", "no"});
  ASSERT_GT(poll, 0);
  auto conn = replica.Connect();
  ASSERT_NE(conn, nullptr);

  HeldWriteLock lock(cluster.db());
  ASSERT_TRUE(lock.held());
  idl::VoteReceipt receipt;
  auto [code, ms] =
      CodeOf([&] { conn->voting().castVote(receipt, poll, "alice", "yes"); });
  std::printf(
      "[db locked] castVote answered code %d after %lld ms (busy timeout %d ms)\n", code,
      static_cast<long long>(ms), kBusyTimeoutMs);
  EXPECT_EQ(code, idl::ErrorCode::UNAVAILABLE);
  EXPECT_GE(ms, kBusyTimeoutMs * 3 / 4) << "it should have waited for the lock";
  EXPECT_LE(ms, RefusalBoundMs());
  idl::CreatePollReply created;
  EXPECT_EQ(CodeOf([&] {
              conn->voting().createPoll(created, "q?", {"a", "b"}, "");
            }).first,
            idl::ErrorCode::UNAVAILABLE);
  idl::ClosePollReply closed;
  EXPECT_EQ(CodeOf([&] { conn->voting().closePoll(closed, poll); }).first,
            idl::ErrorCode::UNAVAILABLE);
  // Readers do not wait for the writer (WAL).
  idl::PollResults results;
  EXPECT_EQ(CodeOf([&] { conn->voting().results(results, poll); }).first, -1);
  // The replica is still up and still listed.
  std::string pinged;
  conn->prime().ping(pinged);
  EXPECT_EQ(pinged, replica.id());
  EXPECT_TRUE(faults::Lists(cluster, "voting", replica.id()));

  lock.Release();
  // Nothing was recorded for alice: another option is accepted, not ALREADY_VOTED.
  conn->voting().castVote(receipt, poll, "alice", "no");
  EXPECT_FALSE(receipt.repeated);
  conn->voting().results(results, poll);
  EXPECT_EQ(results.total, 1);
  EXPECT_EQ(results.poll.closed, false);
}

TEST(DatabaseTrouble, ManyWritersBehindAHeldLockAllGetUnavailableWithoutHanging) {
  Cluster cluster(1, {}, {"--busy-timeout-ms", std::to_string(kBusyTimeoutMs)});
  auto& replica = *cluster.replicas()[0];
  ASSERT_TRUE(replica.ok());
  const int64_t poll = faults::CreatePoll(replica, "Crowded?", {"yes", "no"});
  ASSERT_GT(poll, 0);

  HeldWriteLock lock(cluster.db());
  ASSERT_TRUE(lock.held());
  constexpr int kWriters = 8;
  std::vector<std::future<std::pair<int, int64_t>>> calls;
  for (int i = 0; i < kWriters; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      auto conn = replica.Connect();
      if (conn == nullptr) return std::pair<int, int64_t>{-2, 0};
      idl::VoteReceipt receipt;
      return CodeOf([&] {
        conn->voting().castVote(receipt, poll, "voter" + std::to_string(i), "yes");
      });
    }));
  }
  for (auto& call : calls) {
    auto [code, ms] = call.get();
    EXPECT_EQ(code, idl::ErrorCode::UNAVAILABLE);
    EXPECT_LE(ms, RefusalBoundMs());
  }
  lock.Release();
  auto conn = replica.Connect();
  ASSERT_NE(conn, nullptr);
  idl::PollResults results;
  conn->voting().results(results, poll);
  EXPECT_EQ(results.total, 0);
  idl::VoteReceipt receipt;
  conn->voting().castVote(receipt, poll, "voter0", "no");
  EXPECT_EQ(receipt.option, "no");
}

}  // namespace
}  // namespace beacon
