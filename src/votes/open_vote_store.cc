#include "votes/open_vote_store.h"

#include <utility>

#include "votes/postgres_vote_store.h"
#include "votes/sqlite_vote_store.h"

namespace beacon::votes {

Result<std::unique_ptr<VoteStore>> OpenVoteStore(const std::string& db,
                                                 const VoteStoreOptions& options) {
  if (IsPostgresUri(db)) {
    PostgresOptions postgres;
    postgres.deadline_ms = options.deadline_ms;
    postgres.max_connections = options.max_connections;
    Result<std::unique_ptr<PostgresVoteStore>> store =
        PostgresVoteStore::Open(db, postgres);
    if (!store.ok()) return store.status();
    return std::unique_ptr<VoteStore>(std::move(store).value());
  }
  SqliteOptions sqlite;
  sqlite.busy_deadline_ms = options.deadline_ms;
  sqlite.max_connections = options.max_connections;
  sqlite.debug_hold_before_commit_us = options.debug_hold_before_commit_us;
  sqlite.writer_turn = options.sqlite_writer_turn;
  Result<std::unique_ptr<SqliteVoteStore>> store = SqliteVoteStore::Open(db, sqlite);
  if (!store.ok()) return store.status();
  return std::unique_ptr<VoteStore>(std::move(store).value());
}

std::string DescribeVoteStore(const std::string& db) {
  return IsPostgresUri(db) ? RedactPostgresUri(db) : db;
}

}  // namespace beacon::votes
