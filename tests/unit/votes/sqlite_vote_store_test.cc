#include "votes/sqlite_vote_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"
#include "vote_store_helpers.h"
#include "votes/schema_migrations.h"

namespace beacon::votes {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using store_testing::kT0;
const std::string kDropTable = "Robert'); DROP TABLE votes;--";
const std::string kUnicode = "Zürich 東京 🗳";

// A raw sqlite3 connection, as another process or tool would hold one.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK)
      ADD_FAILURE() << sqlite3_errmsg(db_);
  }
  ~RawConnection() { sqlite3_close(db_); }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  // Records a vote for "red" as a tool writing by hand must: taking its id
  // from vote_ids (db/002_votes_one_btree.sql).
  int InsertVoteByHand(int64_t poll_id, const std::string& voter_id) {
    return Exec(
        "UPDATE vote_ids SET last = last + 1;"
        "INSERT INTO votes (poll_id, voter_id, vote_id, option_text, cast_at_ms,"
        " recorded_by) VALUES (" +
        std::to_string(poll_id) + ", '" + voter_id +
        "', (SELECT last FROM vote_ids), 'red', 1, 'raw')");
  }
  int64_t QueryInt(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int64_t value = -1;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteVoteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenOrDie(); }

  std::unique_ptr<SqliteVoteStore> OpenOrDie(SqliteOptions options = {}) {
    Result<std::unique_ptr<SqliteVoteStore>> store =
        SqliteVoteStore::Open(path_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  Poll MakePoll(std::vector<std::string> options = {"red", "green", "blue"},
                const std::string& request_id = "") {
    return store_testing::MakePoll(*store_, std::move(options), request_id);
  }
  Receipt VoteOrDie(int64_t poll_id, const std::string& voter, const std::string& option,
                    const std::string& recorded_by = "replica-1", int64_t now = kT0 + 1) {
    return store_testing::VoteOrDie(*store_, poll_id, voter, option, recorded_by, now);
  }
  std::vector<int64_t> Counts(int64_t poll_id) {
    return store_testing::Counts(*store_, poll_id);
  }

  TempDir dir_;
  const std::string path_ = dir_.File("votes.db");
  std::unique_ptr<SqliteVoteStore> store_;
};

// --- opening, migrations ---

TEST_F(SqliteVoteStoreTest, OpenSetsSchemaVersionAndWalMode) {
  RawConnection raw(path_);
  EXPECT_EQ(raw.QueryInt("PRAGMA user_version"), SqliteVoteStore::LatestSchemaVersion());
  EXPECT_GE(SqliteVoteStore::LatestSchemaVersion(), 1);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteVoteStoreTest, OpenFailsWhenSchemaIsNewerThanThisBuild) {
  store_.reset();
  {
    RawConnection raw(path_);
    ASSERT_EQ(raw.Exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInternal);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 99"));
}

// A database written by a version-1 build (db/001_init.sql as shipped):
// poll 1 with options red, green, blue and three votes, the last one with
// vote_id 7 (ids need not be dense).
void WriteVersionOneDatabase(const std::string& path) {
  RawConnection raw(path);
  ASSERT_EQ(raw.Exec(SchemaMigrations().front().sql), SQLITE_OK);
  ASSERT_EQ(raw.Exec("PRAGMA user_version = 1"), SQLITE_OK);
  ASSERT_EQ(raw.Exec("INSERT INTO polls (question, created_at_ms) VALUES ('Colour?', 1);"
                     "INSERT INTO poll_options VALUES (1, 0, 'red'), (1, 1, 'green'),"
                     " (1, 2, 'blue');"
                     "INSERT INTO votes VALUES (1, 1, 'alice', 'red', 10, 'replica-a'),"
                     " (2, 1, 'bob', 'blue', 11, 'replica-b'),"
                     " (7, 1, 'carol', 'red', 12, 'replica-a');"),
            SQLITE_OK);
}

TEST(SqliteVoteStoreMigration, VersionOneDatabaseKeepsEveryVoteAndItsId) {
  TempDir dir;
  const std::string path = dir.File("v1.db");
  WriteVersionOneDatabase(path);
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SqliteVoteStore& s = **store;
  EXPECT_THAT(store_testing::Counts(s, 1), ElementsAre(2, 0, 1));
  // Each voter's original receipt, with its version-1 id.
  Result<Receipt> alice = s.CastVote(1, "alice", "red", "replica-c", kT0);
  ASSERT_TRUE(alice.ok()) << alice.status().ToString();
  EXPECT_EQ(alice->vote_id, 1);
  EXPECT_TRUE(alice->repeated);
  EXPECT_EQ(alice->recorded_by, "replica-a");
  EXPECT_EQ(alice->cast_at_ms, 10);
  EXPECT_EQ(s.CastVote(1, "bob", "blue", "replica-c", kT0)->vote_id, 2);
  EXPECT_EQ(s.CastVote(1, "carol", "red", "replica-c", kT0)->vote_id, 7);
  EXPECT_EQ(s.CastVote(1, "bob", "red", "replica-c", kT0).status().code(),
            StatusCode::kAlreadyVoted);
  RawConnection raw(path);
  EXPECT_EQ(raw.QueryInt("PRAGMA user_version"), SqliteVoteStore::LatestSchemaVersion());
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'votes'"
                         " AND type = 'index'"),
            0);  // one B-tree per vote: no index beside the table
}

TEST(SqliteVoteStoreMigration, NewIdsAfterMigrationAreAboveEveryOldOne) {
  TempDir dir;
  const std::string path = dir.File("v1.db");
  WriteVersionOneDatabase(path);
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store_testing::VoteOrDie(**store, 1, "dave", "green").vote_id, 8);
  EXPECT_EQ(store_testing::VoteOrDie(**store, 1, "erin", "green").vote_id, 9);
  EXPECT_THAT(store_testing::Counts(**store, 1), ElementsAre(2, 2, 1));
}

TEST_F(SqliteVoteStoreTest, RepeatsAndConflictsTakeNoVoteId) {
  Poll poll = MakePoll();
  const int64_t first = VoteOrDie(poll.poll_id, "alice", "red").vote_id;
  EXPECT_EQ(VoteOrDie(poll.poll_id, "alice", "red").vote_id, first);
  EXPECT_EQ(store_->CastVote(poll.poll_id, "alice", "blue", "r", kT0).status().code(),
            StatusCode::kAlreadyVoted);
  EXPECT_EQ(store_->CastVote(poll.poll_id, "bob", "mauve", "r", kT0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VoteOrDie(poll.poll_id, "bob", "red").vote_id, first + 1);
}

TEST_F(SqliteVoteStoreTest, FailedBatchGivesUpTheIdsItReserved) {
  Poll poll = MakePoll();
  RawConnection raw(path_);
  // The first vote reserves a block of ids, then its batch is rolled back.
  ASSERT_EQ(raw.Exec("CREATE TRIGGER doom AFTER INSERT ON votes"
                     " WHEN NEW.voter_id = 'doomed' BEGIN SELECT RAISE(ROLLBACK, 'boom');"
                     " END"),
            SQLITE_OK);
  EXPECT_FALSE(store_->CastVote(poll.poll_id, "doomed", "red", "r", kT0).ok());
  ASSERT_EQ(raw.Exec("DROP TRIGGER doom"), SQLITE_OK);
  // Another process now takes the ids that reservation would have had.
  ASSERT_EQ(raw.InsertVoteByHand(poll.poll_id, "carol"), SQLITE_OK);
  const int64_t carol =
      raw.QueryInt("SELECT vote_id FROM votes WHERE voter_id = 'carol'");
  EXPECT_GT(VoteOrDie(poll.poll_id, "alice", "red").vote_id, carol);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(DISTINCT vote_id) FROM votes"), 2);
}

TEST(SqliteVoteStoreOpen, PathUnderARegularFileFailsAtOpenWithUnavailable) {
  TempDir dir;
  const std::string not_a_dir = dir.File("plain_file");
  std::ofstream(not_a_dir) << "x";
  const std::string path = not_a_dir + "/votes.db";
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("unable to open database file"));
}

TEST(SqliteVoteStoreOpen, PathInProcFailsAtOpenWithUnavailable) {
  Result<std::unique_ptr<SqliteVoteStore>> store =
      SqliteVoteStore::Open("/proc/self/beacon_votes.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr("/proc/self/beacon_votes.db"));
}

TEST(SqliteVoteStoreOpen, FileThatIsNotADatabaseFailsAtOpenWithUnavailable) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  std::ofstream(path) << std::string(4096, 'g');
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr("not a database"));
}

TEST(SqliteVoteStoreOpen, DatabaseWhoseLogCannotBeWrittenFailsAtOpenWithUnavailable) {
  TempDir dir;
  const std::string path = dir.File("votes.db");
  ASSERT_TRUE(SqliteVoteStore::Open(path).ok());
  // File modes do not stop root; a directory where the write-ahead log must
  // go stops everyone.
  std::filesystem::remove(path + "-wal");
  std::filesystem::create_directory(path + "-wal");
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST(SqliteVoteStoreOpen, RejectsInMemoryPathAndBadOptions) {
  EXPECT_EQ(SqliteVoteStore::Open(":memory:").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SqliteVoteStore::Open("").status().code(), StatusCode::kInvalidArgument);
  TempDir dir;
  SqliteOptions no_connections;
  no_connections.max_connections = 0;
  EXPECT_EQ(SqliteVoteStore::Open(dir.File("a.db"), no_connections).status().code(),
            StatusCode::kInvalidArgument);
  SqliteOptions negative_deadline;
  negative_deadline.busy_deadline_ms = -1;
  EXPECT_EQ(SqliteVoteStore::Open(dir.File("a.db"), negative_deadline).status().code(),
            StatusCode::kInvalidArgument);
}

// --- contention with another connection ---

class LockedDatabaseTest : public SqliteVoteStoreTest {
 protected:
  static constexpr int kDeadlineMs = 150;

  void SetUp() override {
    SqliteOptions options;
    options.busy_deadline_ms = kDeadlineMs;
    store_ = OpenOrDie(options);
    poll_ = MakePoll();
  }

  // Calls fn while another connection holds the write lock; checks it gives
  // up with kUnavailable after about the deadline, not before and not much
  // after.
  template <class Fn>
  void ExpectUnavailableWhileLocked(Fn fn) {
    RawConnection other(path_);
    ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
    const auto start = std::chrono::steady_clock::now();
    Status s = fn();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(other.Exec("ROLLBACK"), SQLITE_OK);
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_EQ(s.message(), "database busy for 150 ms");
    EXPECT_GE(elapsed, std::chrono::milliseconds(kDeadlineMs));
    EXPECT_LT(elapsed, std::chrono::milliseconds(kDeadlineMs + 1000));
  }

  Poll poll_;
};

TEST_F(LockedDatabaseTest, VoteGivesUpWithUnavailableAfterDeadlineAndRecordsNothing) {
  ExpectUnavailableWhileLocked(
      [&] { return store_->CastVote(poll_.poll_id, "alice", "red", "r", kT0).status(); });
  EXPECT_THAT(Counts(poll_.poll_id), ElementsAre(0, 0, 0));
  EXPECT_FALSE(VoteOrDie(poll_.poll_id, "alice", "red").repeated);  // store still works
}

TEST_F(LockedDatabaseTest, CreateAndCloseGiveUpWithUnavailableAfterDeadline) {
  ExpectUnavailableWhileLocked([&] {
    return store_->CreatePoll("q", {"a", "b"}, "req", kT0).status();
  });
  ExpectUnavailableWhileLocked([&] { return store_->ClosePoll(poll_.poll_id).status(); });
  EXPECT_EQ(store_->ListPolls(10)->size(), 1u);
  EXPECT_FALSE(store_->Results(poll_.poll_id)->poll.closed);
}

TEST_F(LockedDatabaseTest, OpenGivesUpWithUnavailableAfterDeadline) {
  SqliteOptions options;
  options.busy_deadline_ms = kDeadlineMs;
  ExpectUnavailableWhileLocked([&]() -> Status {
    Result<std::unique_ptr<SqliteVoteStore>> other =
        SqliteVoteStore::Open(path_, options);
    if (other.ok()) return Status::Ok();
    // Open prefixes the path; compare the rest like the other calls.
    const std::string& m = other.status().message();
    const std::string prefix = "cannot open vote database \"" + path_ + "\": ";
    EXPECT_EQ(m.rfind(prefix, 0), 0u) << m;
    return Status(other.status().code(), m.substr(prefix.size()));
  });
}

TEST_F(LockedDatabaseTest, ReadsProceedWhileAnotherConnectionHoldsTheWriteLock) {
  VoteOrDie(poll_.poll_id, "alice", "red");
  RawConnection other(path_);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  ASSERT_EQ(other.InsertVoteByHand(poll_.poll_id, "bob"), SQLITE_OK);
  EXPECT_THAT(Counts(poll_.poll_id), ElementsAre(1, 0, 0));  // bob not committed yet
  EXPECT_EQ(store_->ListPolls(5)->size(), 1u);
  ASSERT_EQ(other.Exec("COMMIT"), SQLITE_OK);
  EXPECT_THAT(Counts(poll_.poll_id), ElementsAre(2, 0, 0));
}

TEST_F(SqliteVoteStoreTest, VoteWaitsForALockReleasedBeforeTheDeadline) {
  Poll poll = MakePoll();
  RawConnection other(path_);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  std::future<Result<Receipt>> vote = std::async(std::launch::async, [&] {
    return store_->CastVote(poll.poll_id, "alice", "red", "r", kT0);
  });
  // The vote cannot finish while the lock is held (default deadline 2 s).
  EXPECT_EQ(vote.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_EQ(other.Exec("COMMIT"), SQLITE_OK);
  ASSERT_EQ(vote.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  Result<Receipt> r = vote.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->repeated);
}

}  // namespace
}  // namespace beacon::votes
