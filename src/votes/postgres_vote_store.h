// PostgresVoteStore: the VoteStore on a PostgreSQL server, for replicas on
// several hosts. The only code in Beacon that includes libpq; nothing
// PostgreSQL-specific leaks out of this header.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "votes/vote_store.h"

namespace beacon::votes {

struct PostgresOptions {
  // How long one call may take in total (waiting for a free connection,
  // connecting, and every round trip to the server) before it gives up with
  // kUnavailable. Also the server-side statement_timeout. Must be >= 1.
  int deadline_ms = 2000;
  // At most this many connections are open; callers beyond it wait for one
  // to be returned (within deadline_ms). Must be >= 1.
  size_t max_connections = 8;
};

// True for "postgresql://..." and "postgres://..." (libpq connection URIs).
bool IsPostgresUri(const std::string& db);

// The URI with any password (in the user-info part or a password=
// parameter) replaced by "***": the only form of a URI that may be logged.
std::string RedactPostgresUri(const std::string& uri);

// Safe for concurrent use by many threads; any number of processes on any
// hosts may use the same database at once (the server serialises what must
// be serialised: the unique constraint on (poll, voter) and the poll row).
class PostgresVoteStore final : public VoteStore {
 public:
  // Connects to `uri` (any libpq connection URI; the password comes from
  // the URI, PGPASSWORD or ~/.pgpass) and brings the schema up to date:
  // migrations embedded from db/postgresql/*.sql, applied in one transaction
  // under an advisory lock, so replicas starting together are safe, with the
  // version kept in the table beacon_schema_version. Always performs a
  // write, so a server that cannot be written fails here, not on the first
  // vote. kInvalidArgument for a malformed URI or bad options; kUnavailable
  // naming the redacted URI and the server's reason when it cannot be
  // reached, refuses the login or does not answer within deadline_ms;
  // kInternal when the schema is newer than this build knows or a migration
  // fails. No message ever contains the password.
  static Result<std::unique_ptr<PostgresVoteStore>> Open(const std::string& uri,
                                                         PostgresOptions options = {});

  // Closes every connection. No call may be in progress.
  ~PostgresVoteStore() override;

  PostgresVoteStore(const PostgresVoteStore&) = delete;
  PostgresVoteStore& operator=(const PostgresVoteStore&) = delete;

  // The schema version this build migrates to (the highest
  // db/postgresql/NNN_*.sql).
  static int LatestSchemaVersion();

  // VoteStore. Besides the errors documented there: kUnavailable when the
  // server cannot be reached, is shutting down or restarting, drops the
  // connection, or does not answer within deadline_ms. Unlike SQLite's
  // "busy", a call that gave up after its statement was sent may still have
  // been committed by the server: every call is idempotent (an identical
  // vote returns the original receipt; createPoll with a request id returns
  // the first poll), so retrying is safe. The pool drops broken connections
  // and later calls connect afresh: the store recovers by itself once the
  // server is back. kInternal with the server's message on anything else.
  Result<Poll> CreatePoll(const std::string& question,
                          const std::vector<std::string>& options,
                          const std::string& request_id, int64_t now_ms) override;
  Result<Receipt> CastVote(int64_t poll_id, const std::string& voter_id,
                           const std::string& option, const std::string& recorded_by,
                           int64_t now_ms) override;
  Result<PollResults> Results(int64_t poll_id) override;
  Result<std::vector<Poll>> ListPolls(int limit) override;
  Result<Poll> ClosePoll(int64_t poll_id) override;

 private:
  class Connection;  // one libpq connection with its prepared statements
  class Call;        // one call's deadline and checked-out connection

  PostgresVoteStore(std::string uri, std::vector<std::string> secrets,
                    PostgresOptions options);

  const std::string uri_;                   // as given; never logged
  const std::string redacted_uri_;          // for messages
  const std::vector<std::string> secrets_;  // scrubbed from every message
  const PostgresOptions options_;

  Mutex pool_mu_;
  CondVar pool_cv_;  // a connection was returned or dropped
  std::vector<std::unique_ptr<Connection>> idle_ GUARDED_BY(pool_mu_);
  size_t open_connections_ GUARDED_BY(pool_mu_) = 0;
};

}  // namespace beacon::votes
