// libpq rather than libpqxx: every wait here must end at the call's
// deadline (a stopped or unreachable server must never hang a call), and
// libpq's asynchronous API (PQconnectStartParams/PQconnectPoll,
// PQsendQueryPrepared, PQconsumeInput) lets us poll the socket with our own
// timeout. Debian 12's libpqxx 6.4 only offers blocking calls and reports
// failures through a hierarchy of exceptions we would have to map back to
// the same SQLSTATEs anyway.
#include "votes/postgres_vote_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <optional>
#include <utility>

#include "core/validation.h"
#include "votes/schema_migrations.h"

namespace beacon::votes {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// pg_advisory_xact_lock key serialising schema migrations between replicas:
// the ASCII bytes of "beacon" as one bigint.
constexpr const char* kMigrationLockKey = "108170291396462";

// The statements of the schema, prepared once per connection (PREPARE in
// the same round trip as the session settings).
//
// Why each is one statement in autocommit mode (no BEGIN ... COMMIT): the
// server runs it as a transaction of its own, so no replica ever holds a
// transaction open across a network round trip. A replica that is stopped
// (SIGSTOP), paused by the scheduler or cut off in the middle of a call
// therefore holds no lock that other replicas wait for, unlike SQLite's file
// lock. Read Committed is enough: every rule that must hold across replicas
// is a constraint or a row lock the server checks, not a read followed by a
// write.
struct Statement {
  const char* name;
  const char* sql;
};

// CastVote. The poll row is read FOR SHARE: a vote and closePoll's UPDATE of
// that row serialise (a vote that waits for a close re-reads the row and
// sees it closed), so no vote commits after the close it did not see. The
// INSERT's ON CONFLICT DO NOTHING lets the unique constraint decide the race
// between two replicas recording the same voter; it waits for a concurrent
// insert of the same voter to commit or roll back. The LEFT JOIN reads the
// voter's existing vote in the statement's snapshot; a vote committed by
// another replica after that snapshot is read by kFindVote in a new one.
constexpr Statement kCastVote = {
    "beacon_cast_vote",
    "PREPARE beacon_cast_vote (bigint, text, text, bigint, text) AS"
    " WITH target AS ("
    "   SELECT p.closed, EXISTS (SELECT 1 FROM poll_options o"
    "     WHERE o.poll_id = p.poll_id AND o.option_text = $3) AS known"
    "   FROM polls p WHERE p.poll_id = $1 FOR SHARE OF p),"
    " inserted AS ("
    "   INSERT INTO votes (poll_id, voter_id, option_text, cast_at_ms, recorded_by)"
    "   SELECT $1, $2, $3, $4, $5 FROM target WHERE target.known AND NOT target.closed"
    "   ON CONFLICT (poll_id, voter_id) DO NOTHING RETURNING vote_id)"
    " SELECT t.closed, t.known, i.vote_id,"
    "   v.vote_id, v.option_text, v.cast_at_ms, v.recorded_by"
    " FROM target t LEFT JOIN inserted i ON TRUE"
    " LEFT JOIN votes v ON v.poll_id = $1 AND v.voter_id = $2"};

constexpr Statement kFindVote = {
    "beacon_find_vote",
    "PREPARE beacon_find_vote (bigint, text) AS"
    " SELECT vote_id, option_text, cast_at_ms, recorded_by FROM votes"
    " WHERE poll_id = $1 AND voter_id = $2"};

// CreatePoll: the poll and its options in one statement (so one
// transaction). ON CONFLICT on request_id makes a retry insert nothing; NULL
// request ids never conflict.
constexpr Statement kInsertPoll = {
    "beacon_insert_poll",
    "PREPARE beacon_insert_poll (text, bigint, text, text[]) AS"
    " WITH new_poll AS ("
    "   INSERT INTO polls (question, created_at_ms, request_id) VALUES ($1, $2, $3)"
    "   ON CONFLICT (request_id) DO NOTHING RETURNING poll_id),"
    " new_options AS ("
    "   INSERT INTO poll_options (poll_id, position, option_text)"
    "   SELECT n.poll_id, o.ordinal - 1, o.option_text"
    "   FROM new_poll n, unnest($4) WITH ORDINALITY AS o (option_text, ordinal))"
    " SELECT poll_id FROM new_poll"};

constexpr Statement kFindPollByRequest = {
    "beacon_find_poll_by_request",
    "PREPARE beacon_find_poll_by_request (text) AS"
    " SELECT poll_id FROM polls WHERE request_id = $1"};

// One row per option (one row with a NULL option for a poll without any).
constexpr Statement kReadPoll = {
    "beacon_read_poll",
    "PREPARE beacon_read_poll (bigint) AS"
    " SELECT p.question, p.closed, p.created_at_ms, o.option_text"
    " FROM polls p LEFT JOIN poll_options o ON o.poll_id = p.poll_id"
    " WHERE p.poll_id = $1 ORDER BY o.position"};

// The poll and its counts from one snapshot.
constexpr Statement kResults = {
    "beacon_results",
    "PREPARE beacon_results (bigint) AS"
    " SELECT p.question, p.closed, p.created_at_ms, o.option_text,"
    "   (SELECT count(*) FROM votes v"
    "    WHERE v.poll_id = o.poll_id AND v.option_text = o.option_text)"
    " FROM polls p LEFT JOIN poll_options o ON o.poll_id = p.poll_id"
    " WHERE p.poll_id = $1 ORDER BY o.position"};

constexpr Statement kListPolls = {
    "beacon_list_polls",
    "PREPARE beacon_list_polls (bigint) AS"
    " SELECT p.poll_id, p.question, p.closed, p.created_at_ms, o.option_text"
    " FROM (SELECT * FROM polls ORDER BY poll_id DESC LIMIT $1) p"
    " JOIN poll_options o ON o.poll_id = p.poll_id"
    " ORDER BY p.poll_id DESC, o.position"};

constexpr Statement kClosePoll = {
    "beacon_close_poll",
    "PREPARE beacon_close_poll (bigint) AS"
    " UPDATE polls SET closed = TRUE WHERE poll_id = $1 AND NOT closed"};

constexpr Statement kAllStatements[] = {kCastVote,          kFindVote, kInsertPoll,
                                        kFindPollByRequest, kReadPoll, kResults,
                                        kListPolls,         kClosePoll};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string PollNotFound(int64_t poll_id) {
  return "poll " + std::to_string(poll_id) + " not found";
}

// A text-format column value.
std::string Text(const PGresult* r, int row, int column) {
  return std::string(PQgetvalue(r, row, column),
                     static_cast<size_t>(PQgetlength(r, row, column)));
}
int64_t Int(const PGresult* r, int row, int column) {
  return std::strtoll(PQgetvalue(r, row, column), nullptr, 10);
}
bool Bool(const PGresult* r, int row, int column) {
  return PQgetvalue(r, row, column)[0] == 't';
}
bool Null(const PGresult* r, int row, int column) {
  return PQgetisnull(r, row, column) != 0;
}

// A text[] literal: every element double-quoted, with " and \ escaped.
std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// SQLSTATEs after which a retry may well succeed: connection trouble
// (class 08), the server shutting down or starting (57P01-57P03), too many
// connections or out of resources (class 53), a cancelled statement (57014,
// our statement_timeout), serialisation failure and deadlock (class 40).
bool IsTransientSqlState(const std::string& state) {
  return state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 ||
         state.rfind("40", 0) == 0 || state == "57P01" || state == "57P02" ||
         state == "57P03" || state == "57014";
}

std::string TrimmedMessage(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (char& c : m) {
    if (c == '\n') c = ' ';
  }
  return m;
}

// The password parts of a URI, raw and as libpq decodes them.
std::vector<std::string> SecretsOf(const std::string& uri) {
  std::vector<std::string> secrets;
  const size_t scheme_end = uri.find("://");
  if (scheme_end != std::string::npos) {
    const size_t start = scheme_end + 3;
    const size_t end = std::min(uri.find_first_of("/?", start), uri.size());
    const size_t at = uri.rfind('@', end == uri.size() ? std::string::npos : end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = uri.find(':', start);
      if (colon != std::string::npos && colon < at) {
        secrets.push_back(uri.substr(colon + 1, at - colon - 1));
      }
    }
    const size_t query = uri.find('?', start);
    if (query != std::string::npos) {
      size_t pos = query + 1;
      while (pos < uri.size()) {
        const size_t amp = std::min(uri.find('&', pos), uri.size());
        const std::string param = uri.substr(pos, amp - pos);
        if (param.rfind("password=", 0) == 0) secrets.push_back(param.substr(9));
        pos = amp + 1;
      }
    }
  }
  char* error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error)) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::string(o->keyword) == "password" && o->val != nullptr) {
        secrets.push_back(o->val);
      }
    }
    PQconninfoFree(options);
  }
  PQfreemem(error);
  secrets.erase(std::remove(secrets.begin(), secrets.end(), std::string()),
                secrets.end());
  return secrets;
}

std::string Scrub(std::string message, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (size_t pos = message.find(secret); pos != std::string::npos;
         pos = message.find(secret, pos + 3)) {
      message.replace(pos, secret.size(), "***");
    }
  }
  return message;
}

// Waits until the socket is ready for `events` or the deadline passes.
// False on timeout or a poll error.
bool WaitForSocket(int fd, short events, TimePoint deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - SteadyClock::now());
    if (left.count() < 0) return false;
    pollfd p{fd, events, 0};
    // Round up, so a wait of less than 1 ms still waits.
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (rc > 0) return true;
    if (rc == 0 && SteadyClock::now() >= deadline) return false;
    if (rc < 0 && errno != EINTR) return false;
  }
}

}  // namespace

bool IsPostgresUri(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

std::string RedactPostgresUri(const std::string& uri) {
  return Scrub(uri, SecretsOf(uri));
}

// One libpq connection in non-blocking mode, with the session settings and
// prepared statements. Used by one thread at a time (checked out of the pool
// for one call). Once broken() it is never used again.
class PostgresVoteStore::Connection {
 public:
  // Connects, applies the session settings and prepares the statements
  // (`prepare`: false only for the migration connection, before the schema
  // exists), all before `deadline`.
  static Result<std::unique_ptr<Connection>> Connect(const PostgresVoteStore& store,
                                                     bool prepare, TimePoint deadline) {
    const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
    const char* values[] = {store.uri_.c_str(), "beacon_replica", nullptr};
    std::unique_ptr<Connection> c(new Connection(
        PQconnectStartParams(keywords, values, /*expand_dbname=*/1), store.secrets_));
    if (c->conn_ == nullptr) return Unavailable("postgresql: out of memory");
    // Notices (such as "relation already exists, skipping") are not errors;
    // libpq would print them on stderr.
    PQsetNoticeProcessor(
        c->conn_, [](void*, const char*) {}, nullptr);
    PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
    while (polling != PGRES_POLLING_OK) {
      if (polling == PGRES_POLLING_FAILED || PQstatus(c->conn_) == CONNECTION_BAD) {
        return Unavailable("postgresql: " + c->ErrorMessage());
      }
      const short events = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      if (!WaitForSocket(PQsocket(c->conn_), events, deadline)) {
        return Unavailable("postgresql: no connection within " +
                           std::to_string(store.options_.deadline_ms) + " ms");
      }
      polling = PQconnectPoll(c->conn_);
    }
    if (PQsetnonblocking(c->conn_, 1) != 0) {
      return Unavailable("postgresql: " + c->ErrorMessage());
    }
    // The server stops work the caller has given up on.
    std::string setup =
        "SET statement_timeout = " + std::to_string(store.options_.deadline_ms) + ";";
    if (prepare) {
      for (const Statement& s : kAllStatements) setup += std::string(s.sql) + ";";
    }
    if (Result<PgResult> r = c->Run(setup, {}, deadline, store.options_.deadline_ms);
        !r.ok()) {
      return r.status();
    }
    return c;
  }

  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool broken() const { return broken_; }

  // Executes a prepared statement with text parameters (nullopt: NULL) and
  // waits for its result until the deadline. kUnavailable (and the
  // connection marked broken) when the connection fails or the deadline
  // passes; kUnavailable for transient SQLSTATEs; kInternal for other
  // errors.
  Result<PgResult> Execute(const Statement& statement,
                           const std::vector<std::optional<std::string>>& params,
                           TimePoint deadline, int deadline_ms) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    if (!PQsendQueryPrepared(conn_, statement.name, static_cast<int>(values.size()),
                             values.data(), nullptr, nullptr, 0)) {
      return Lost();
    }
    return Finish(deadline, deadline_ms);
  }

  // Runs SQL text (several statements allowed when there are no params).
  Result<PgResult> Run(const std::string& sql,
                       const std::vector<std::optional<std::string>>& params,
                       TimePoint deadline, int deadline_ms) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    const int sent =
        values.empty()
            ? PQsendQuery(conn_, sql.c_str())
            : PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                                nullptr, values.data(), nullptr, nullptr, 0);
    if (!sent) return Lost();
    return Finish(deadline, deadline_ms);
  }

  // Cheap check before reuse, without a round trip. A server that shut
  // down or restarted has sent an error report and closed the socket, which
  // shows as input waiting on an idle connection; nothing else is ever sent
  // to our idle connections (no LISTEN, notices are only sent during a
  // query), so any input at all means the connection is finished.
  bool LooksAlive() const {
    if (broken_ || PQstatus(conn_) != CONNECTION_OK ||
        PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      return false;
    }
    pollfd p{PQsocket(conn_), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

 private:
  Connection(PGconn* conn, const std::vector<std::string>& secrets)
      : conn_(conn), secrets_(secrets) {}

  std::string ErrorMessage() const {
    return Scrub(TrimmedMessage(PQerrorMessage(conn_)), secrets_);
  }

  Status Lost() {
    broken_ = true;
    return Unavailable("postgresql: " + ErrorMessage());
  }

  // Flushes what was sent, then collects every result of the query. The
  // first error wins; otherwise the last result is returned.
  Result<PgResult> Finish(TimePoint deadline, int deadline_ms) {
    const auto timed_out = [&] {
      broken_ = true;  // the answer may still arrive: never reuse
      return Unavailable("postgresql: no answer within " + std::to_string(deadline_ms) +
                         " ms");
    };
    for (;;) {
      const int flushed = PQflush(conn_);
      if (flushed == 0) break;
      if (flushed < 0) return Lost();
      if (!WaitForSocket(PQsocket(conn_), POLLIN | POLLOUT, deadline)) return timed_out();
      if (!PQconsumeInput(conn_)) return Lost();
    }
    PgResult last;
    std::optional<Status> error;
    for (;;) {
      while (PQisBusy(conn_)) {
        if (!WaitForSocket(PQsocket(conn_), POLLIN, deadline)) return timed_out();
        if (!PQconsumeInput(conn_)) return Lost();
      }
      PgResult r(PQgetResult(conn_));
      if (!r) break;
      const ExecStatusType status = PQresultStatus(r.get());
      if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
          status == PGRES_NONFATAL_ERROR) {
        if (!error) error = ErrorOf(r.get());
      } else {
        last = std::move(r);
      }
    }
    if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
    if (error) return *error;
    if (broken_) return Lost();
    return last;
  }

  Status ErrorOf(const PGresult* r) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    std::string message = TrimmedMessage(PQresultErrorMessage(r));
    if (message.empty()) message = TrimmedMessage(PQerrorMessage(conn_));
    message = "postgresql: " + Scrub(message, secrets_);
    if (state == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      broken_ = true;  // libpq's own error: the connection failed
      return Unavailable(message);
    }
    if (IsTransientSqlState(state)) {
      if (std::string(state).rfind("08", 0) == 0 || state[0] == '5') broken_ = true;
      return Unavailable(message);
    }
    return Internal(message + " (SQLSTATE " + state + ")");
  }

  PGconn* conn_;
  const std::vector<std::string>& secrets_;  // owned by the store
  bool broken_ = false;
};

// One store call: its deadline and a checked-out connection. The destructor
// returns the connection to the pool, or drops it when it broke.
class PostgresVoteStore::Call {
 public:
  explicit Call(PostgresVoteStore& store)
      : store_(store),
        deadline_(SteadyClock::now() +
                  std::chrono::milliseconds(store.options_.deadline_ms)) {}

  ~Call() {
    if (!connection_) return;
    std::unique_ptr<Connection> dropped;
    {
      MutexLock lock(store_.pool_mu_);
      if (connection_->broken()) {
        dropped = std::move(connection_);
        --store_.open_connections_;
      } else {
        store_.idle_.push_back(std::move(connection_));
      }
    }
    store_.pool_cv_.NotifyOne();
    // `dropped` closes its socket here, outside the lock.
  }

  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Runs body(call) with a connection checked out.
  template <class T, class Body>
  Result<T> Run(Body&& body) {
    try {
      if (Status s = Acquire(); !s.ok()) return s;
      return body(*this);
    } catch (const std::exception& e) {
      if (connection_) {  // in an unknown state: never reuse
        connection_.reset();
        ForgetConnection();
      }
      return Internal(std::string("vote store: ") + e.what());
    }
  }

  Result<PgResult> Execute(const Statement& statement,
                           const std::vector<std::optional<std::string>>& params) {
    return connection_->Execute(statement, params, deadline_,
                                store_.options_.deadline_ms);
  }

 private:
  void ForgetConnection() {
    {
      MutexLock lock(store_.pool_mu_);
      --store_.open_connections_;
    }
    store_.pool_cv_.NotifyOne();
  }

  // An idle connection that still looks alive, a new one while fewer than
  // max_connections are open, or the next one returned before the deadline.
  Status Acquire() {
    std::vector<std::unique_ptr<Connection>> dead;  // closed outside the lock
    {
      MutexLock lock(store_.pool_mu_);
      for (;;) {
        while (!store_.idle_.empty()) {
          std::unique_ptr<Connection> c = std::move(store_.idle_.back());
          store_.idle_.pop_back();
          if (c->LooksAlive()) {
            connection_ = std::move(c);
            return Status::Ok();
          }
          dead.push_back(std::move(c));
          --store_.open_connections_;
        }
        if (store_.open_connections_ < store_.options_.max_connections) break;
        if (store_.pool_cv_.WaitUntil(store_.pool_mu_, deadline_) &&
            store_.idle_.empty() &&
            store_.open_connections_ >= store_.options_.max_connections) {
          return Unavailable("no free database connection within " +
                             std::to_string(store_.options_.deadline_ms) + " ms");
        }
      }
      ++store_.open_connections_;  // connected below, outside the lock
    }
    Result<std::unique_ptr<Connection>> c =
        Connection::Connect(store_, /*prepare=*/true, deadline_);
    if (!c.ok()) {
      ForgetConnection();
      return c.status();
    }
    connection_ = std::move(c).value();
    return Status::Ok();
  }

  PostgresVoteStore& store_;
  const TimePoint deadline_;
  std::unique_ptr<Connection> connection_;
};

namespace {

// The poll from kReadPoll or kResults rows (columns question, closed,
// created_at_ms, option_text).
Poll PollFromRows(const PGresult* r, int64_t poll_id) {
  Poll poll;
  poll.poll_id = poll_id;
  poll.question = Text(r, 0, 0);
  poll.closed = Bool(r, 0, 1);
  poll.created_at_ms = Int(r, 0, 2);
  for (int row = 0; row < PQntuples(r); ++row) {
    if (!Null(r, row, 3)) poll.options.push_back(Text(r, row, 3));
  }
  return poll;
}

}  // namespace

PostgresVoteStore::PostgresVoteStore(std::string uri, std::vector<std::string> secrets,
                                     PostgresOptions options)
    : uri_(std::move(uri)),
      redacted_uri_(Scrub(uri_, secrets)),
      secrets_(std::move(secrets)),
      options_(options) {}

PostgresVoteStore::~PostgresVoteStore() = default;

int PostgresVoteStore::LatestSchemaVersion() {
  return PostgresSchemaMigrations().back().version;
}

Result<std::unique_ptr<PostgresVoteStore>> PostgresVoteStore::Open(
    const std::string& uri, PostgresOptions options) {
  if (options.deadline_ms < 1) {
    return InvalidArgument("deadline_ms must be >= 1, got " +
                           std::to_string(options.deadline_ms));
  }
  if (options.max_connections < 1) {
    return InvalidArgument("max_connections must be >= 1");
  }
  std::vector<std::string> secrets = SecretsOf(uri);
  if (!IsPostgresUri(uri)) {
    return InvalidArgument("not a PostgreSQL URI (postgresql://...): " +
                           QuoteForMessage(Scrub(uri, secrets)));
  }
  {
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &error);
    const std::string why = TrimmedMessage(error);
    PQfreemem(error);
    if (parsed == nullptr) {
      return InvalidArgument("invalid PostgreSQL URI " +
                             QuoteForMessage(Scrub(uri, secrets)) + ": " +
                             Scrub(why, secrets));
    }
    PQconninfoFree(parsed);
  }
  std::unique_ptr<PostgresVoteStore> store(
      new PostgresVoteStore(uri, std::move(secrets), options));
  const auto failed = [&](const Status& s) {
    return Status(s.code(), "cannot open vote database " + store->redacted_uri_ + ": " +
                                s.message());
  };

  // Migrations on a connection of their own (the statements can only be
  // prepared once the tables exist), in one transaction: the advisory lock
  // is released by COMMIT, or by the server when the connection drops.
  const TimePoint deadline =
      SteadyClock::now() + std::chrono::milliseconds(options.deadline_ms);
  Result<std::unique_ptr<Connection>> c = Connection::Connect(*store, false, deadline);
  if (!c.ok()) return failed(c.status());
  Connection& conn = **c;
  const auto run = [&](const std::string& sql) {
    return conn.Run(sql, {}, deadline, options.deadline_ms);
  };
  if (Result<PgResult> r =
          run(std::string("BEGIN; SELECT pg_advisory_xact_lock(") + kMigrationLockKey +
              ");"
              " CREATE TABLE IF NOT EXISTS beacon_schema_version ("
              "   singleton BOOLEAN PRIMARY KEY DEFAULT TRUE"
              "     CHECK (singleton),"
              "   version INTEGER NOT NULL);"
              " SELECT version FROM beacon_schema_version");
      !r.ok()) {
    return failed(r.status());
  } else {
    const int latest = LatestSchemaVersion();
    const int current =
        PQntuples(r->get()) == 0 ? 0 : static_cast<int>(Int(r->get(), 0, 0));
    if (current > latest) {
      return failed(Internal("schema version " + std::to_string(current) +
                             " is newer than this build knows (" +
                             std::to_string(latest) + ")"));
    }
    for (const SchemaMigration& m : PostgresSchemaMigrations()) {
      if (m.version <= current) continue;
      if (Result<PgResult> applied = run(m.sql); !applied.ok()) {
        Status s = applied.status();
        if (s.code() == StatusCode::kInternal) {
          s = Internal(std::string("migration ") + m.name + ": " + s.message());
        }
        return failed(s);
      }
    }
    // Written even when nothing changed: proves at Open that the database
    // is writable, instead of failing on the first vote.
    if (Result<PgResult> done =
            run("INSERT INTO beacon_schema_version (version) VALUES (" +
                std::to_string(latest) +
                ") ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version;"
                " COMMIT");
        !done.ok()) {
      return failed(done.status());
    }
  }
  // Keep nothing from Open: the pool connects (and prepares) on demand.
  return store;
}

Result<Poll> PostgresVoteStore::CreatePoll(const std::string& question,
                                           const std::vector<std::string>& options,
                                           const std::string& request_id,
                                           int64_t now_ms) {
  Call call(*this);
  return call.Run<Poll>([&](Call& c) -> Result<Poll> {
    std::optional<std::string> request;
    if (!request_id.empty()) request = request_id;
    Result<PgResult> inserted = c.Execute(
        kInsertPoll, {question, std::to_string(now_ms), request, TextArray(options)});
    if (!inserted.ok()) return inserted.status();
    int64_t poll_id = 0;
    if (PQntuples(inserted->get()) == 1) {
      Poll poll;
      poll.poll_id = Int(inserted->get(), 0, 0);
      poll.question = question;
      poll.options = options;
      poll.created_at_ms = now_ms;
      return poll;
    }
    // The request id was used before (possibly committed by another replica
    // after this statement's snapshot): read that poll in a new snapshot.
    Result<PgResult> found = c.Execute(kFindPollByRequest, {request_id});
    if (!found.ok()) return found.status();
    if (PQntuples(found->get()) != 1) {
      return Internal("poll with request id " + QuoteForMessage(request_id) +
                      " neither inserted nor found");
    }
    poll_id = Int(found->get(), 0, 0);
    Result<PgResult> read = c.Execute(kReadPoll, {std::to_string(poll_id)});
    if (!read.ok()) return read.status();
    if (PQntuples(read->get()) == 0) return NotFound(PollNotFound(poll_id));
    return PollFromRows(read->get(), poll_id);
  });
}

Result<Receipt> PostgresVoteStore::CastVote(int64_t poll_id, const std::string& voter_id,
                                            const std::string& option,
                                            const std::string& recorded_by,
                                            int64_t now_ms) {
  Call call(*this);
  return call.Run<Receipt>([&](Call& c) -> Result<Receipt> {
    const std::string poll = std::to_string(poll_id);
    Result<PgResult> cast = c.Execute(
        kCastVote, {poll, voter_id, option, std::to_string(now_ms), recorded_by});
    if (!cast.ok()) return cast.status();
    const PGresult* r = cast->get();
    if (PQntuples(r) == 0) return NotFound(PollNotFound(poll_id));
    const bool closed = Bool(r, 0, 0);
    if (!Bool(r, 0, 1)) {
      return InvalidArgument("option " + QuoteForMessage(option) +
                             " is not an option of poll " + poll);
    }
    if (!Null(r, 0, 2)) {  // newly recorded, and committed
      return Receipt{Int(r, 0, 2),      poll_id, voter_id, option, now_ms, recorded_by,
                     /*repeated=*/false};
    }
    // The voter has voted already, or the poll is closed; an identical
    // repeat still gets its original receipt.
    std::string recorded_option;
    int64_t vote_id = 0, cast_at_ms = 0;
    std::string first_recorded_by;
    if (!Null(r, 0, 3)) {
      vote_id = Int(r, 0, 3);
      recorded_option = Text(r, 0, 4);
      cast_at_ms = Int(r, 0, 5);
      first_recorded_by = Text(r, 0, 6);
    } else {
      // Not in this statement's snapshot: another replica committed it
      // while the insert waited on the unique index. Read it afresh.
      Result<PgResult> found = c.Execute(kFindVote, {poll, voter_id});
      if (!found.ok()) return found.status();
      const PGresult* f = found->get();
      if (PQntuples(f) == 0) {
        if (closed) return Conflict("poll " + poll + " is closed");
        return Internal("vote of " + QuoteForMessage(voter_id) + " in poll " + poll +
                        " neither inserted nor found");
      }
      vote_id = Int(f, 0, 0);
      recorded_option = Text(f, 0, 1);
      cast_at_ms = Int(f, 0, 2);
      first_recorded_by = Text(f, 0, 3);
    }
    if (recorded_option != option) {
      return AlreadyVoted("voter " + QuoteForMessage(voter_id) + " already voted " +
                          QuoteForMessage(recorded_option) + " in poll " + poll);
    }
    return Receipt{vote_id,    poll_id,           voter_id,         recorded_option,
                   cast_at_ms, first_recorded_by, /*repeated=*/true};
  });
}

Result<PollResults> PostgresVoteStore::Results(int64_t poll_id) {
  Call call(*this);
  return call.Run<PollResults>([&](Call& c) -> Result<PollResults> {
    Result<PgResult> read = c.Execute(kResults, {std::to_string(poll_id)});
    if (!read.ok()) return read.status();
    const PGresult* r = read->get();
    if (PQntuples(r) == 0) return NotFound(PollNotFound(poll_id));
    PollResults results;
    results.poll = PollFromRows(r, poll_id);
    for (int row = 0; row < PQntuples(r); ++row) {
      if (Null(r, row, 3)) continue;
      const int64_t votes = Int(r, row, 4);
      results.counts.push_back(OptionCount{Text(r, row, 3), votes});
      results.total += votes;
    }
    return results;
  });
}

Result<std::vector<Poll>> PostgresVoteStore::ListPolls(int limit) {
  if (limit < 1)
    return InvalidArgument("limit must be >= 1, got " + std::to_string(limit));
  Call call(*this);
  return call.Run<std::vector<Poll>>([&](Call& c) -> Result<std::vector<Poll>> {
    Result<PgResult> read = c.Execute(kListPolls, {std::to_string(limit)});
    if (!read.ok()) return read.status();
    const PGresult* r = read->get();
    std::vector<Poll> polls;
    for (int row = 0; row < PQntuples(r); ++row) {  // polls newest first
      const int64_t poll_id = Int(r, row, 0);
      if (polls.empty() || polls.back().poll_id != poll_id) {
        Poll& poll = polls.emplace_back();
        poll.poll_id = poll_id;
        poll.question = Text(r, row, 1);
        poll.closed = Bool(r, row, 2);
        poll.created_at_ms = Int(r, row, 3);
      }
      polls.back().options.push_back(Text(r, row, 4));
    }
    return polls;
  });
}

Result<Poll> PostgresVoteStore::ClosePoll(int64_t poll_id) {
  Call call(*this);
  return call.Run<Poll>([&](Call& c) -> Result<Poll> {
    const std::string poll = std::to_string(poll_id);
    // No change when already closed or absent; waits for votes holding the
    // poll row FOR SHARE, so none commits after this.
    if (Result<PgResult> closed = c.Execute(kClosePoll, {poll}); !closed.ok()) {
      return closed.status();
    }
    Result<PgResult> read = c.Execute(kReadPoll, {poll});
    if (!read.ok()) return read.status();
    if (PQntuples(read->get()) == 0) return NotFound(PollNotFound(poll_id));
    return PollFromRows(read->get(), poll_id);
  });
}

}  // namespace beacon::votes
