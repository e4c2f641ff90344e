// OpenVoteStore: the one place that turns a --db value into a VoteStore, so
// programs need not know which stores exist.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "votes/vote_store.h"

namespace beacon::votes {

struct VoteStoreOptions {
  // How long one call may wait for the database in total (SQLite: its write
  // lock; PostgreSQL: a connection and every round trip) before it fails
  // with kUnavailable.
  int deadline_ms = 2000;
  // Connections per process. Must be >= 1.
  size_t max_connections = 8;
  // SQLite only (PostgreSQL ignores it): writers of all processes take turns
  // on a shared blocking writer turn before SQLite's lock (see
  // SqliteOptions::writer_turn); false: they poll SQLite's lock alone.
  bool sqlite_writer_turn = true;
  // Test aid (SQLite only; PostgreSQL ignores it): every write transaction
  // sleeps this long before COMMIT. 0 in production.
  int debug_hold_before_commit_us = 0;
};

// `db` is a PostgreSQL connection URI ("postgresql://..." or
// "postgres://...") or else the path of an SQLite file. Opens the store and
// brings its schema up to date; the errors are those of
// SqliteVoteStore::Open and PostgresVoteStore::Open (messages name the
// database, never a password). Thread-safe.
Result<std::unique_ptr<VoteStore>> OpenVoteStore(const std::string& db,
                                                 const VoteStoreOptions& options = {});

// `db` as it may be logged: an SQLite path as given; a PostgreSQL URI with
// its password replaced by "***".
std::string DescribeVoteStore(const std::string& db);

}  // namespace beacon::votes
