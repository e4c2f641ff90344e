// The transaction machinery under SqliteVoteStore on its own, on a table of
// its own: one batch, one transaction, each job's outcome its own.
#include "votes/sqlite_transaction.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "votes/sqlite_connection.h"
#include "votes/writer_queue.h"

namespace beacon::votes::sqlite {
namespace {

TimePoint In(int ms) { return SteadyClock::now() + std::chrono::milliseconds(ms); }

class SqliteTransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<int> made = RunTransaction<int>(
        pool_, /*write=*/true, In(2000), 2000, StorageFailure::kInternal,
        [](Connection& c) -> Result<int> {
          c.db().exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
          return 0;
        });
    ASSERT_TRUE(made.ok()) << made.status().ToString();
  }

  // A job inserting (k, v); `then_fail` makes it return an error afterwards.
  std::unique_ptr<WriteJob> Insert(const std::string& k, int v, bool isolated,
                                   bool then_fail = false) {
    return std::make_unique<WriteJob>(
        10, In(2000), isolated, [k, v, then_fail](Connection& c) -> Status {
          SQLite::Statement insert(c.db(), "INSERT INTO t (k, v) VALUES (?1, ?2)");
          insert.bind(1, k);
          insert.bind(2, v);
          insert.exec();
          if (then_fail) return Conflict("refused after writing " + k);
          return Status::Ok();
        });
  }

  // Runs the jobs as one batch led by the first; returns what the runner
  // asked of take(): 1 everyone, 0 the leader alone, -1 never called.
  int Run(const std::vector<std::unique_ptr<WriteJob>>& jobs, int busy_ms = 2000) {
    WriterQueue::Batch all, leader_only{jobs[0].get()};
    for (const auto& j : jobs) all.push_back(j.get());
    BatchOptions options;
    options.busy_ms = busy_ms;
    int asked = -1;
    RunWriteBatch(pool_, options, *jobs[0],
                  [&](bool everyone) -> const WriterQueue::Batch& {
                    asked = everyone ? 1 : 0;
                    return everyone ? all : leader_only;
                  });
    return asked;
  }

  std::vector<std::string> Keys() {
    Result<std::vector<std::string>> keys = RunTransaction<std::vector<std::string>>(
        pool_, /*write=*/false, In(2000), 2000, StorageFailure::kInternal,
        [](Connection& c) -> Result<std::vector<std::string>> {
          std::vector<std::string> out;
          SQLite::Statement q(c.db(), "SELECT k FROM t ORDER BY k");
          while (q.executeStep()) out.push_back(q.getColumn(0).getString());
          return out;
        });
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() ? *keys : std::vector<std::string>{};
  }

  TempDir dir_;
  ConnectionPool pool_{dir_.File("t.db"), 2, nullptr};
};

TEST_F(SqliteTransactionTest, EveryJobOfABatchCommitsInOneTransaction) {
  std::vector<std::unique_ptr<WriteJob>> jobs;
  jobs.push_back(Insert("a", 1, false));
  jobs.push_back(Insert("b", 2, true));
  EXPECT_EQ(Run(jobs), 1);
  for (const auto& j : jobs) {
    EXPECT_TRUE(j->committed);
    EXPECT_TRUE(j->outcome.ok()) << j->outcome.ToString();
  }
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(SqliteTransactionTest, IsolatedJobThatFailsAfterWritingIsUndoneAlone) {
  std::vector<std::unique_ptr<WriteJob>> jobs;
  jobs.push_back(Insert("a", 1, false));
  jobs.push_back(Insert("b", 2, true, /*then_fail=*/true));
  jobs.push_back(Insert("c", 3, false));
  Run(jobs);
  EXPECT_TRUE(jobs[0]->outcome.ok());
  EXPECT_EQ(jobs[1]->outcome.code(), StatusCode::kConflict);
  EXPECT_TRUE(jobs[2]->outcome.ok());
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(SqliteTransactionTest, FailedStatementFailsOnlyItsJob) {
  std::vector<std::unique_ptr<WriteJob>> jobs;
  jobs.push_back(Insert("a", 1, false));
  jobs.push_back(Insert("a", 2, false));  // primary key taken: the statement fails
  jobs.push_back(Insert("b", 3, false));
  Run(jobs);
  EXPECT_TRUE(jobs[0]->outcome.ok());
  EXPECT_EQ(jobs[1]->outcome.code(), StatusCode::kInternal);
  EXPECT_NE(jobs[1]->outcome.message().find("UNIQUE"), std::string::npos)
      << jobs[1]->outcome.message();
  EXPECT_TRUE(jobs[2]->outcome.ok());
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(SqliteTransactionTest, LeaderThatCannotGetTheLockFailsAloneAndTakesNoOtherJob) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("t.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::vector<std::unique_ptr<WriteJob>> jobs;
  for (const char* k : {"a", "b"}) {
    jobs.push_back(std::make_unique<WriteJob>(10, In(100), false, [k](Connection& c) {
      c.db().exec(std::string("INSERT INTO t VALUES ('") + k + "', 0)");
      return Status::Ok();
    }));
  }
  EXPECT_EQ(Run(jobs, /*busy_ms=*/100), 0);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_FALSE(jobs[0]->committed);
  EXPECT_EQ(jobs[0]->outcome.code(), StatusCode::kUnavailable)
      << jobs[0]->outcome.ToString();
  EXPECT_EQ(jobs[0]->outcome.message(), "database busy for 100 ms");
  EXPECT_TRUE(jobs[1]->outcome.ok());  // untouched: it waits for the next leader
  EXPECT_TRUE(Keys().empty());
}

}  // namespace
}  // namespace beacon::votes::sqlite
