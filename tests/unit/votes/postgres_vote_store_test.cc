// What only the PostgreSQL store has: URIs and their redaction, schema
// migrations under an advisory lock, and outages of a server on the network
// (the shared behaviour is in vote_store_contract_test.cc). Runs against a
// real server this test starts; skipped, saying so, without the binaries.
#include "votes/postgres_vote_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "postgres_server.h"
#include "support/process.h"

namespace beacon::votes {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PostgresServer;

constexpr int64_t kT0 = 1'700'000'000'000;
// Slack on top of a call's deadline in bounds that only check that a call
// does not hang: generous, since a loaded 2-core machine can deschedule the
// caller for seconds; stretched by BEACON_TEST_TIME_SCALE.
const int kHangSlackMs = testing::ScaledMs(10000);

// Store options for tests that are not about the deadline: one long enough
// that a loaded machine (a fresh backend's fork, password check and
// PREPAREs can take over 500 ms at load 10 on 2 cores) never fails a call
// the test expects to succeed. Calls that must fail still fail at once
// (refused connections, server errors).
PostgresOptions Patient() {
  PostgresOptions options;
  options.deadline_ms = testing::ScaledMs(10000);
  return options;
}

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

TEST(PostgresUri, SchemesAreRecognised) {
  EXPECT_TRUE(IsPostgresUri("postgresql://u@h/db"));
  EXPECT_TRUE(IsPostgresUri("postgres://u@h/db"));
  EXPECT_FALSE(IsPostgresUri("votes.db"));
  EXPECT_FALSE(IsPostgresUri("/var/lib/postgresql://x"));
  EXPECT_FALSE(IsPostgresUri("host=h dbname=db"));
}

TEST(PostgresUri, RedactionHidesPasswordsInUserInfoAndParameters) {
  EXPECT_EQ(RedactPostgresUri("postgresql://beacon:p%40ss@db.example:5432/votes"),
            "postgresql://beacon:***@db.example:5432/votes");
  EXPECT_EQ(RedactPostgresUri("postgres://u@h/db?sslmode=require&password=hunter2"),
            "postgres://u@h/db?sslmode=require&password=***");
  EXPECT_EQ(RedactPostgresUri("postgresql://u@h:5/db"), "postgresql://u@h:5/db");
}

TEST(PostgresOpen, MalformedUriIsInvalidArgumentWithoutThePassword) {
  Result<std::unique_ptr<PostgresVoteStore>> store =
      PostgresVoteStore::Open("postgresql://u:sekret@h/db?no_such_option=1");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("no_such_option"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("sekret")));
  EXPECT_EQ(PostgresVoteStore::Open("votes.db").status().code(),
            StatusCode::kInvalidArgument);
  PostgresOptions no_deadline;
  no_deadline.deadline_ms = 0;
  EXPECT_EQ(PostgresVoteStore::Open("postgresql://u@h/db", no_deadline).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PostgresOpen, UnreachableServerIsUnavailableSoonNamingTheRedactedUri) {
  const testing::RefusingPort refusing;  // nothing listens there
  const std::string uri =
      "postgresql://beacon:sekret@127.0.0.1:" + std::to_string(refusing.port()) + "/x";
  const auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<PostgresVoteStore>> store = PostgresVoteStore::Open(uri);
  ASSERT_FALSE(store.ok());
  EXPECT_LT(MillisSince(start), 2000 + kHangSlackMs);
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr("beacon:***@127.0.0.1"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("sekret")));
}

// A raw libpq session, as another client of the server would hold one.
class RawSession {
 public:
  explicit RawSession(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << PQerrorMessage(conn_);
  }
  ~RawSession() { PQfinish(conn_); }
  bool Exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const bool ok =
        PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    PQclear(r);
    return ok;
  }

 private:
  PGconn* conn_;
};

class PostgresVoteStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bool missing = false;
    server_ = PostgresServer::Start(&start_error_, &missing).release();
    missing_ = missing;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    if (missing_) GTEST_SKIP() << start_error_;
    ASSERT_NE(server_, nullptr) << start_error_;
    if (!server_->running()) {  // a test that stopped it failed half-way
      std::string error;
      ASSERT_TRUE(server_->Restart(&error)) << error;
    }
    static int databases = 0;
    db_name_ = "pg_" + std::to_string(++databases);
    std::string error;
    ASSERT_TRUE(server_->CreateDatabase(db_name_, &error)) << error;
    uri_ = server_->Uri(db_name_);
  }

  std::unique_ptr<PostgresVoteStore> OpenOrDie(PostgresOptions options = Patient()) {
    Result<std::unique_ptr<PostgresVoteStore>> store =
        PostgresVoteStore::Open(uri_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string Query(const std::string& sql) {
    std::string error;
    std::string value = server_->Query(db_name_, sql, &error);
    EXPECT_EQ(error, "") << sql;
    return value;
  }

  static PostgresServer* server_;
  static std::string start_error_;
  static bool missing_;
  std::string db_name_;
  std::string uri_;
};

PostgresServer* PostgresVoteStoreTest::server_ = nullptr;
std::string PostgresVoteStoreTest::start_error_;
bool PostgresVoteStoreTest::missing_ = false;

TEST_F(PostgresVoteStoreTest, OpenRecordsTheSchemaVersion) {
  ASSERT_NE(OpenOrDie(), nullptr);
  EXPECT_GE(PostgresVoteStore::LatestSchemaVersion(), 1);
  EXPECT_EQ(Query("SELECT version FROM beacon_schema_version"),
            std::to_string(PostgresVoteStore::LatestSchemaVersion()));
}

TEST_F(PostgresVoteStoreTest, ReplicasOpeningTogetherMigrateOnce) {
  constexpr int kReplicas = 6;
  std::vector<std::thread> threads;
  std::vector<Status> results(kReplicas);
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<size_t>(i)] = PostgresVoteStore::Open(uri_, Patient()).status();
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Query("SELECT count(*) FROM beacon_schema_version"), "1");
  EXPECT_EQ(Query("SELECT count(*) FROM pg_tables WHERE tablename = 'votes'"), "1");
}

TEST_F(PostgresVoteStoreTest, OpenFailsWhenSchemaIsNewerThanThisBuild) {
  ASSERT_NE(OpenOrDie(), nullptr);
  Query("UPDATE beacon_schema_version SET version = 99");
  Result<std::unique_ptr<PostgresVoteStore>> store =
      PostgresVoteStore::Open(uri_, Patient());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInternal);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 99"));
}

TEST_F(PostgresVoteStoreTest, WrongPasswordIsUnavailableAndNeverEchoed) {
  const std::string uri =
      "postgresql://beacon:not-the-pw@127.0.0.1:" + std::to_string(server_->port()) +
      "/" + db_name_;
  Result<std::unique_ptr<PostgresVoteStore>> store = PostgresVoteStore::Open(uri);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr("password authentication failed"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("not-the-pw")));
}

TEST_F(PostgresVoteStoreTest, PasswordFromPgpasswordIsUsed) {
  ::setenv("PGPASSWORD", PostgresServer::kPassword, 1);
  Result<std::unique_ptr<PostgresVoteStore>> store =
      PostgresVoteStore::Open(server_->UriWithoutPassword(db_name_));
  ::unsetenv("PGPASSWORD");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
}

TEST_F(PostgresVoteStoreTest, VoteBlockedPastItsDeadlineIsUnavailableAndRecordsNothing) {
  std::unique_ptr<PostgresVoteStore> patient = OpenOrDie();
  ASSERT_NE(patient, nullptr);
  Result<Poll> poll = patient->CreatePoll("q", {"a", "b"}, "", kT0);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  patient.reset();  // its session would count below
  const std::string id = std::to_string(poll->poll_id);
  // A store with a short deadline, with one connection already in its pool
  // so that the vote below reaches the lock: on a loaded machine opening
  // and connecting can each take longer than 300 ms, so both are retried
  // until they succeed in time.
  PostgresOptions options;
  options.deadline_ms = 300;
  std::unique_ptr<PostgresVoteStore> store;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        Result<std::unique_ptr<PostgresVoteStore>> opened =
            PostgresVoteStore::Open(uri_, options);
        if (opened.ok()) store = std::move(opened).value();
        return store != nullptr && store->ListPolls(1).ok();
      },
      testing::ScaledMs(60000), 50));
  {
    RawSession other(uri_);
    ASSERT_TRUE(other.Exec("BEGIN"));
    ASSERT_TRUE(other.Exec("SELECT * FROM polls WHERE poll_id = " + id + " FOR UPDATE"));
    const auto start = std::chrono::steady_clock::now();
    Status s = store->CastVote(poll->poll_id, "alice", "a", "r", kT0).status();
    const int64_t ms = MillisSince(start);
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_GE(ms, 250);  // it waited for the lock; it did not fail early
    EXPECT_LT(ms, 300 + kHangSlackMs);
    // The caller gave up at its deadline, but its statement is still queued
    // on the lock in the server until statement_timeout (the same 300 ms,
    // counted from a later start) cancels it. Releasing the lock before
    // that would let it commit: allowed by the contract (a call that gave
    // up may have committed; retries are idempotent) but not what this test
    // checks. Wait, however slow the machine, until the server has cancelled
    // it and ended the session the store dropped: then only `other` is left.
    const std::string sessions =
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()";
    EXPECT_TRUE(testing::WaitUntil([&] { return Query(sessions) == "1"; },
                                   testing::ScaledMs(30000), 20))
        << "the abandoned vote is still in the server (no statement_timeout?)";
    ASSERT_TRUE(other.Exec("ROLLBACK"));
  }
  EXPECT_EQ(Query("SELECT count(*) FROM votes"), "0");
  patient = OpenOrDie();
  ASSERT_NE(patient, nullptr);
  Result<Receipt> r = patient->CastVote(poll->poll_id, "alice", "a", "r", kT0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->repeated);
}

// Another replica's closePoll commits while a vote is on its way: the vote
// must wait for it and then see the poll closed (the poll row read FOR
// SHARE), never commit after a close it did not see.
TEST_F(PostgresVoteStoreTest, VoteRacingACloseWaitsForItAndSeesThePollClosed) {
  PostgresOptions options;
  options.deadline_ms = 60000;  // the wait below must not end the call
  std::unique_ptr<PostgresVoteStore> store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  Result<Poll> poll = store->CreatePoll("q", {"a", "b"}, "", kT0);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  RawSession closer(uri_);
  ASSERT_TRUE(closer.Exec("BEGIN"));
  ASSERT_TRUE(closer.Exec("UPDATE polls SET closed = TRUE WHERE poll_id = " +
                          std::to_string(poll->poll_id)));
  Status vote;
  std::thread voter(
      [&] { vote = store->CastVote(poll->poll_id, "alice", "a", "r", kT0).status(); });
  const bool waited = testing::WaitUntil(
      [&] {
        return Query(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                   " current_database() AND wait_event_type = 'Lock'") == "1";
      },
      testing::ScaledMs(20000), 10);
  EXPECT_TRUE(waited) << "the vote did not wait for the uncommitted close";
  ASSERT_TRUE(closer.Exec("COMMIT"));
  voter.join();
  EXPECT_EQ(vote.code(), StatusCode::kConflict) << vote.ToString();
  EXPECT_EQ(Query("SELECT count(*) FROM votes"), "0");
}

// A statement the server cancels (statement_timeout, or an operator's
// pg_cancel_backend) while the connection stays up: UNAVAILABLE, since a
// retry may well succeed, not INTERNAL; nothing recorded; the retry works.
TEST_F(PostgresVoteStoreTest, VoteCancelledByTheServerIsUnavailableAndRetryable) {
  PostgresOptions options;
  options.deadline_ms = 60000;  // the server cancels it, not our deadline
  std::unique_ptr<PostgresVoteStore> store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  Result<Poll> poll = store->CreatePoll("q", {"a", "b"}, "", kT0);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  RawSession holder(uri_);
  ASSERT_TRUE(holder.Exec("BEGIN"));
  ASSERT_TRUE(holder.Exec("SELECT * FROM polls WHERE poll_id = " +
                          std::to_string(poll->poll_id) + " FOR UPDATE"));
  Status vote;
  std::thread voter(
      [&] { vote = store->CastVote(poll->poll_id, "alice", "a", "r", kT0).status(); });
  const bool cancelled = testing::WaitUntil(
      [&] {
        return Query(
                   "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity"
                   " WHERE datname = current_database()"
                   " AND wait_event_type = 'Lock'") == "1";
      },
      testing::ScaledMs(20000), 10);
  EXPECT_TRUE(cancelled) << "the vote never waited for the lock";
  voter.join();
  EXPECT_EQ(vote.code(), StatusCode::kUnavailable) << vote.ToString();
  EXPECT_THAT(vote.message(), HasSubstr("canceling statement"));
  ASSERT_TRUE(holder.Exec("ROLLBACK"));
  EXPECT_EQ(Query("SELECT count(*) FROM votes"), "0");
  Result<Receipt> retry = store->CastVote(poll->poll_id, "alice", "a", "r", kT0);
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_FALSE(retry->repeated);
}

TEST_F(PostgresVoteStoreTest, CallsFailWithUnavailableWhileServerIsDownAndRecoverAfter) {
  const PostgresOptions options = Patient();
  std::unique_ptr<PostgresVoteStore> store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  Result<Poll> poll = store->CreatePoll("q", {"a", "b"}, "req", kT0);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  // Fill the pool with several idle connections, all of which the restart
  // will kill.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        EXPECT_TRUE(store
                        ->CastVote(poll->poll_id, "v" + std::to_string(t * 100 + i), "a",
                                   "r", kT0)
                        .ok());
      }
    });
  }
  for (auto& t : threads) t.join();

  ASSERT_TRUE(server_->Stop());
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    Status s = store->CastVote(poll->poll_id, "down-" + std::to_string(i), "a", "r", kT0)
                   .status();
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_LT(MillisSince(start), options.deadline_ms + kHangSlackMs);
    EXPECT_EQ(store->Results(poll->poll_id).status().code(), StatusCode::kUnavailable);
  }
  std::string error;
  ASSERT_TRUE(server_->Restart(&error)) << error;
  // The same store object, no reopening: every call succeeds again.
  for (int i = 0; i < 12; ++i) {
    Result<Receipt> r =
        store->CastVote(poll->poll_id, "up-" + std::to_string(i), "b", "r", kT0);
    EXPECT_TRUE(r.ok()) << i << ": " << r.status().ToString();
  }
  Result<PollResults> results = store->Results(poll->poll_id);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  EXPECT_EQ(results->total, 80 + 12);
}

TEST_F(PostgresVoteStoreTest, IdleConnectionsKilledByARestartAreNotHandedOut) {
  std::unique_ptr<PostgresVoteStore> store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  Result<Poll> poll = store->CreatePoll("q", {"a", "b"}, "", kT0);
  ASSERT_TRUE(poll.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] { EXPECT_TRUE(store->ListPolls(5).ok()); });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(server_->Stop());
  std::string error;
  ASSERT_TRUE(server_->Restart(&error)) << error;
  for (int i = 0; i < 8; ++i) {
    Result<std::vector<Poll>> polls = store->ListPolls(5);
    EXPECT_TRUE(polls.ok()) << i << ": " << polls.status().ToString();
  }
}

}  // namespace
}  // namespace beacon::votes
