#include "store_under_test.h"

namespace beacon::faults {

std::string StoreName(const ::testing::TestParamInfo<Store>& info) {
  return info.param == Store::kSqlite ? "Sqlite" : "Postgres";
}

StoreUnderTest::StoreUnderTest(Store store, const testing::Cluster& cluster) {
  if (store == Store::kSqlite) {
    db_ = cluster.db();
    return;
  }
  server_ = testing::PostgresServer::Start(&error_, &missing_);
  if (!server_) return;
  if (!server_->CreateDatabase("beacon", &error_)) return;
  db_ = server_->Uri("beacon");
}

testing::ReplicaProcess& AddReplica(testing::Cluster& cluster, const std::string& db,
                                    const std::vector<std::string>& extra_flags) {
  auto& replicas = cluster.replicas();
  replicas.push_back(std::make_unique<testing::ReplicaProcess>(
      cluster.dir(), "replica" + std::to_string(replicas.size() + 1),
      cluster.registry().port(), db, extra_flags));
  return *replicas.back();
}

}  // namespace beacon::faults
