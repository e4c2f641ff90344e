// The database a fault test's replicas share, for either store: the
// cluster's SQLite file, or a database on a PostgreSQL server the test
// starts (tests/postgres). Fault tests are parameterised over it, so the same
// scenario runs on both (instances .../Sqlite and .../Postgres; the latter
// are the ctest tests faults_*_postgres).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "postgres_server.h"

namespace beacon::faults {

enum class Store { kSqlite, kPostgres };

// "Sqlite" or "Postgres", for INSTANTIATE_TEST_SUITE_P.
std::string StoreName(const ::testing::TestParamInfo<Store>& info);

// Owns the PostgreSQL server when there is one (stopped on destruction, by
// pid). Not thread-safe.
class StoreUnderTest {
 public:
  StoreUnderTest(Store store, const testing::Cluster& cluster);
  // The PostgreSQL binaries are not installed: the test should skip.
  bool missing() const { return missing_; }
  bool ok() const { return !db_.empty(); }
  const std::string& error() const { return error_; }
  // The --db value for replicas.
  const std::string& db() const { return db_; }
  // The PostgreSQL server, or nullptr for SQLite.
  testing::PostgresServer* postgres() const { return server_.get(); }

 private:
  std::unique_ptr<testing::PostgresServer> server_;
  std::string db_;
  std::string error_;
  bool missing_ = false;
};

// Starts one more replica of `cluster` on `db` (any --db value).
testing::ReplicaProcess& AddReplica(testing::Cluster& cluster, const std::string& db,
                                    const std::vector<std::string>& extra_flags = {});

}  // namespace beacon::faults
