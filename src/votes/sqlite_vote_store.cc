#include "votes/sqlite_vote_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <random>
#include <thread>
#include <utility>

#include "core/validation.h"
#include "votes/schema_migrations.h"

namespace beacon::votes {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// Busy-handler sleeps: short at first (another process's write transaction
// takes tens of microseconds), doubling up to a cap, each jittered so waiting
// processes do not retry in lock-step. SQLite's file lock has no queue: a
// waiter only gets it by asking while it is free, so a long sleep loses
// races to busier processes. Measured with 3 processes writing flat out on
// this 2-core machine: a 1 ms cap gave a worst vote of 20-60 ms, 200 us gave
// 6-20 ms at the same throughput.
constexpr std::chrono::microseconds kFirstBusySleep{20};
constexpr std::chrono::microseconds kMaxBusySleep{200};

bool IsBusyCode(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// The statements of the schema, prepared once per connection and reused.
struct Statements {
  explicit Statements(SQLite::Database& db)
      : find_poll(db,
                  "SELECT poll_id, question, closed, created_at_ms FROM polls"
                  " WHERE poll_id = ?1"),
        poll_options(db,
                     "SELECT option_text FROM poll_options WHERE poll_id = ?1"
                     " ORDER BY position"),
        find_poll_by_request(db, "SELECT poll_id FROM polls WHERE request_id = ?1"),
        insert_poll(db,
                    "INSERT INTO polls (question, created_at_ms, request_id)"
                    " VALUES (?1, ?2, ?3) RETURNING poll_id"),
        insert_option(db,
                      "INSERT INTO poll_options (poll_id, position, option_text)"
                      " VALUES (?1, ?2, ?3)"),
        vote_target(db,
                    "SELECT p.closed, EXISTS (SELECT 1 FROM poll_options o"
                    " WHERE o.poll_id = p.poll_id AND o.option_text = ?2)"
                    " FROM polls p WHERE p.poll_id = ?1"),
        insert_vote(db,
                    "INSERT INTO votes (poll_id, voter_id, option_text, cast_at_ms,"
                    " recorded_by) VALUES (?1, ?2, ?3, ?4, ?5)"
                    " ON CONFLICT (poll_id, voter_id) DO NOTHING RETURNING vote_id"),
        find_vote(db,
                  "SELECT vote_id, option_text, cast_at_ms, recorded_by FROM votes"
                  " WHERE poll_id = ?1 AND voter_id = ?2"),
        count_votes(db,
                    "SELECT o.option_text, (SELECT COUNT(*) FROM votes v"
                    " WHERE v.poll_id = o.poll_id AND v.option_text = o.option_text)"
                    " FROM poll_options o WHERE o.poll_id = ?1 ORDER BY o.position"),
        list_polls(db,
                   "SELECT p.poll_id, p.question, p.closed, p.created_at_ms,"
                   " o.option_text FROM (SELECT * FROM polls ORDER BY poll_id DESC"
                   " LIMIT ?1) p JOIN poll_options o ON o.poll_id = p.poll_id"
                   " ORDER BY p.poll_id DESC, o.position"),
        close_poll(db, "UPDATE polls SET closed = 1 WHERE poll_id = ?1 AND closed = 0") {}

  SQLite::Statement find_poll;
  SQLite::Statement poll_options;
  SQLite::Statement find_poll_by_request;
  SQLite::Statement insert_poll;
  SQLite::Statement insert_option;
  SQLite::Statement vote_target;
  SQLite::Statement insert_vote;
  SQLite::Statement find_vote;
  SQLite::Statement count_votes;
  SQLite::Statement list_polls;
  SQLite::Statement close_poll;
};

// One use of a reused statement: starts from a clean slate and is reset on
// scope exit, so no statement keeps a read open past its use.
class StatementUse {
 public:
  explicit StatementUse(SQLite::Statement& statement) : statement_(statement) {
    statement_.tryReset();
    statement_.clearBindings();
  }
  ~StatementUse() { statement_.tryReset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  SQLite::Statement* operator->() { return &statement_; }

 private:
  SQLite::Statement& statement_;
};

std::string PollNotFound(int64_t poll_id) {
  return "poll " + std::to_string(poll_id) + " not found";
}

}  // namespace

// One SQLite connection: its pragmas, the deadline-bounded busy handler, and
// its prepared statements. Used by one thread at a time (checked out of the
// pool for the length of one call).
class SqliteVoteStore::Connection {
 public:
  // Throws SQLite::Exception when the file cannot be opened or set up.
  Connection(const std::string& path, TimePoint deadline)
      : db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX),
        deadline_(deadline),
        rng_(std::random_device{}()) {
    // Installed before anything touches the file: even switching to WAL may
    // wait for another process that is creating the database.
    sqlite3_busy_handler(db_.getHandle(), &Connection::OnBusy, this);
    const std::string mode = EnableWal();
    if (mode != "wal") {
      throw SQLite::Exception("cannot use WAL journal mode (got \"" + mode +
                                  "\"); the path must name a file on a local disk",
                              SQLITE_CANTOPEN);
    }
    db_.exec("PRAGMA synchronous = NORMAL");
    db_.exec("PRAGMA foreign_keys = ON");
    begin_immediate_ = std::make_unique<SQLite::Statement>(db_, "BEGIN IMMEDIATE");
    begin_deferred_ = std::make_unique<SQLite::Statement>(db_, "BEGIN");
    commit_ = std::make_unique<SQLite::Statement>(db_, "COMMIT");
    rollback_ = std::make_unique<SQLite::Statement>(db_, "ROLLBACK");
  }

  SQLite::Database& db() { return db_; }
  void set_deadline(TimePoint deadline) { deadline_ = deadline; }

  // Prepared on first use: they need the schema, which Open creates first.
  Statements& statements() {
    if (!statements_) statements_ = std::make_unique<Statements>(db_);
    return *statements_;
  }

  // BEGIN IMMEDIATE takes the write lock up front, so a write transaction
  // never has to upgrade a read lock (which fails without calling the busy
  // handler when another writer got in between).
  void Begin(bool write) { Run(write ? *begin_immediate_ : *begin_deferred_); }
  void Commit() { Run(*commit_); }
  void Rollback() { Run(*rollback_); }

  bool InTransaction() const { return sqlite3_get_autocommit(db_.getHandle()) == 0; }

  // Rolls back an open transaction; false when the connection is unusable.
  bool RollbackIfOpen() noexcept {
    if (!InTransaction()) return true;
    rollback_->tryReset();
    const int rc = rollback_->tryExecuteStep();
    rollback_->tryReset();
    return rc == SQLITE_DONE && !InTransaction();
  }

 private:
  static void Run(SQLite::Statement& statement) {
    StatementUse use(statement);
    use->exec();
  }

  // Switching a database into WAL mode needs an exclusive lock, and SQLite
  // reports SQLITE_BUSY for it at once, without calling the busy handler,
  // when other connections are opening the same fresh file (seen with six
  // processes racing to create it). So it is retried here, under the same
  // deadline. Returns the journal mode now in effect.
  std::string EnableWal() {
    for (int attempt = 0;; ++attempt) {
      try {
        return db_.execAndGet("PRAGMA journal_mode = WAL").getString();
      } catch (const SQLite::Exception& e) {
        if (!IsBusyCode(e.getErrorCode()) || !WaitBeforeRetry(attempt)) throw;
      }
    }
  }

  // SQLite calls this while another connection holds the lock it needs;
  // returning 0 makes the statement fail with SQLITE_BUSY.
  static int OnBusy(void* self, int attempts) {
    return static_cast<Connection*>(self)->WaitBeforeRetry(attempts) ? 1 : 0;
  }

  // Sleeps a jittered, growing interval (never past the deadline); false
  // when the deadline has passed and the caller should give up.
  bool WaitBeforeRetry(int attempts) {
    const TimePoint now = SteadyClock::now();
    if (now >= deadline_) return false;
    const auto cap = std::min<std::chrono::microseconds>(
        kMaxBusySleep, kFirstBusySleep * (int64_t{1} << std::min(attempts, 10)));
    std::uniform_int_distribution<int64_t> jitter(cap.count() / 2, cap.count());
    const std::chrono::microseconds sleep{jitter(rng_)};
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(sleep, deadline_ - now));
    return true;
  }

  SQLite::Database db_;
  TimePoint deadline_;  // of the call that has the connection checked out
  std::minstd_rand rng_;
  std::unique_ptr<SQLite::Statement> begin_immediate_;
  std::unique_ptr<SQLite::Statement> begin_deferred_;
  std::unique_ptr<SQLite::Statement> commit_;
  std::unique_ptr<SQLite::Statement> rollback_;
  std::unique_ptr<Statements> statements_;
};

// One store call: its deadline, its turn as this process's writer (for
// writes), a checked-out connection and one transaction. Run() maps every
// SQLite exception to a Status; the destructor rolls back whatever is left
// open and returns the connection to the pool (or drops it if unusable).
class SqliteVoteStore::Call {
 public:
  enum class Kind { kRead, kWrite };
  // What a storage failure other than "busy" means: a bug or surprise during
  // normal calls, but an unusable file (unopenable, read-only, not a
  // database) while opening.
  enum class StorageFailure { kInternal, kUnavailable };

  Call(SqliteVoteStore& store, Kind kind,
       StorageFailure storage_failure = StorageFailure::kInternal)
      : store_(store),
        kind_(kind),
        storage_failure_(storage_failure),
        deadline_(SteadyClock::now() +
                  std::chrono::milliseconds(store.options_.busy_deadline_ms)) {}

  ~Call() {
    if (connection_) {
      const bool usable = connection_->RollbackIfOpen();
      std::unique_ptr<Connection> dropped;
      {
        std::lock_guard<std::mutex> lock(store_.pool_mu_);
        if (usable) {
          store_.idle_.push_back(std::move(connection_));
        } else {
          dropped = std::move(connection_);
          --store_.open_connections_;
        }
      }
      store_.pool_cv_.notify_one();
    }
    if (holds_writer_turn_) {
      {
        std::lock_guard<std::mutex> lock(store_.writer_mu_);
        store_.writer_turn_taken_ = false;
      }
      store_.writer_cv_.notify_one();
    }
  }

  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Runs body(connection) in one transaction: committed when it returns ok,
  // rolled back when it returns an error or anything throws.
  template <class T, class Body>
  Result<T> Run(Body&& body) {
    try {
      if (Status s = Acquire(); !s.ok()) return s;
      connection_->Begin(kind_ == Kind::kWrite);
      Result<T> result = body(*connection_);
      if (result.ok()) {
        connection_->Commit();
      } else {
        connection_->Rollback();
      }
      return result;
    } catch (const SQLite::Exception& e) {
      if (IsBusyCode(e.getErrorCode())) return Busy();
      const StatusCode code = storage_failure_ == StorageFailure::kUnavailable
                                  ? StatusCode::kUnavailable
                                  : StatusCode::kInternal;
      return Status(code, std::string("sqlite: ") + e.what());
    } catch (const std::exception& e) {
      return Internal(std::string("vote store: ") + e.what());
    }
  }

 private:
  Status Busy() const {
    return Unavailable("database busy for " +
                       std::to_string(store_.options_.busy_deadline_ms) + " ms");
  }

  // This process's writer turn (writes only), then a connection: an idle
  // one, a new one while fewer than max_connections are open, or the next
  // one returned before the deadline.
  Status Acquire() {
    if (kind_ == Kind::kWrite) {
      std::unique_lock<std::mutex> lock(store_.writer_mu_);
      if (!store_.writer_cv_.wait_until(lock, deadline_,
                                        [&] { return !store_.writer_turn_taken_; })) {
        return Busy();
      }
      store_.writer_turn_taken_ = true;
      holds_writer_turn_ = true;
    }
    std::unique_lock<std::mutex> lock(store_.pool_mu_);
    while (store_.idle_.empty() &&
           store_.open_connections_ >= store_.options_.max_connections) {
      if (store_.pool_cv_.wait_until(lock, deadline_) == std::cv_status::timeout &&
          store_.idle_.empty() &&
          store_.open_connections_ >= store_.options_.max_connections) {
        return Unavailable("no free database connection within " +
                           std::to_string(store_.options_.busy_deadline_ms) + " ms");
      }
    }
    if (!store_.idle_.empty()) {
      connection_ = std::move(store_.idle_.back());
      store_.idle_.pop_back();
      connection_->set_deadline(deadline_);
      return Status::Ok();
    }
    ++store_.open_connections_;
    lock.unlock();
    try {
      connection_ = std::make_unique<Connection>(store_.path_, deadline_);
    } catch (...) {
      lock.lock();
      --store_.open_connections_;
      lock.unlock();
      store_.pool_cv_.notify_one();
      throw;
    }
    return Status::Ok();
  }

  SqliteVoteStore& store_;
  const Kind kind_;
  const StorageFailure storage_failure_;
  const TimePoint deadline_;
  bool holds_writer_turn_ = false;
  std::unique_ptr<Connection> connection_;
};

namespace {

// The poll with its options in order; kNotFound when absent.
Result<Poll> ReadPoll(Statements& st, int64_t poll_id) {
  Poll poll;
  {
    StatementUse q(st.find_poll);
    q->bind(1, poll_id);
    if (!q->executeStep()) return NotFound(PollNotFound(poll_id));
    poll.poll_id = q->getColumn(0).getInt64();
    poll.question = q->getColumn(1).getString();
    poll.closed = q->getColumn(2).getInt() != 0;
    poll.created_at_ms = q->getColumn(3).getInt64();
  }
  StatementUse q(st.poll_options);
  q->bind(1, poll_id);
  while (q->executeStep()) poll.options.push_back(q->getColumn(0).getString());
  return poll;
}

}  // namespace

SqliteVoteStore::SqliteVoteStore(std::string path, SqliteOptions options)
    : path_(std::move(path)), options_(options) {}

SqliteVoteStore::~SqliteVoteStore() = default;

int SqliteVoteStore::LatestSchemaVersion() { return SchemaMigrations().back().version; }

Result<std::unique_ptr<SqliteVoteStore>> SqliteVoteStore::Open(const std::string& path,
                                                               SqliteOptions options) {
  if (options.busy_deadline_ms < 0) {
    return InvalidArgument("busy_deadline_ms must be >= 0, got " +
                           std::to_string(options.busy_deadline_ms));
  }
  if (options.max_connections < 1) {
    return InvalidArgument("max_connections must be >= 1");
  }
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) {
    return InvalidArgument("vote database path must name a file, got " +
                           QuoteForMessage(path));
  }
  std::unique_ptr<SqliteVoteStore> store(new SqliteVoteStore(path, options));
  const int latest = LatestSchemaVersion();
  Call call(*store, Call::Kind::kWrite, Call::StorageFailure::kUnavailable);
  Result<int> migrated = call.Run<int>([&](Connection& c) -> Result<int> {
    // Read inside BEGIN IMMEDIATE: a replica that lost the race to migrate
    // sees the version the winner committed and applies nothing.
    const int current = c.db().execAndGet("PRAGMA user_version").getInt();
    if (current > latest) {
      return Internal("schema version " + std::to_string(current) +
                      " is newer than this build knows (" + std::to_string(latest) + ")");
    }
    for (const SchemaMigration& m : SchemaMigrations()) {
      if (m.version <= current) continue;
      try {
        c.db().exec(m.sql);
      } catch (const SQLite::Exception& e) {
        if ((e.getErrorCode() & 0xff) != SQLITE_ERROR) throw;  // busy, read-only, ...
        return Internal(std::string("migration ") + m.name + ": " + e.what());
      }
    }
    // Written even when nothing changed: proves at Open that the file is
    // writable, instead of failing on the first vote.
    c.db().exec("PRAGMA user_version = " + std::to_string(latest));
    return latest;
  });
  if (!migrated.ok()) {
    return Status(migrated.status().code(), "cannot open vote database \"" + path +
                                                "\": " + migrated.status().message());
  }
  return store;
}

Result<Poll> SqliteVoteStore::CreatePoll(const std::string& question,
                                         const std::vector<std::string>& options,
                                         const std::string& request_id, int64_t now_ms) {
  Call call(*this, Call::Kind::kWrite);
  return call.Run<Poll>([&](Connection& c) -> Result<Poll> {
    Statements& st = c.statements();
    if (!request_id.empty()) {
      StatementUse q(st.find_poll_by_request);
      q->bind(1, request_id);
      if (q->executeStep()) return ReadPoll(st, q->getColumn(0).getInt64());
    }
    Poll poll;
    {
      StatementUse insert(st.insert_poll);
      insert->bind(1, question);
      insert->bind(2, now_ms);
      if (request_id.empty()) {
        insert->bind(3);  // NULL: no idempotency key
      } else {
        insert->bind(3, request_id);
      }
      if (!insert->executeStep()) return Internal("insert into polls returned no id");
      poll.poll_id = insert->getColumn(0).getInt64();
    }
    for (size_t i = 0; i < options.size(); ++i) {
      StatementUse insert(st.insert_option);
      insert->bind(1, poll.poll_id);
      insert->bind(2, static_cast<int64_t>(i));
      insert->bind(3, options[i]);
      insert->exec();
    }
    poll.question = question;
    poll.options = options;
    poll.created_at_ms = now_ms;
    return poll;
  });
}

Result<Receipt> SqliteVoteStore::CastVote(int64_t poll_id, const std::string& voter_id,
                                          const std::string& option,
                                          const std::string& recorded_by,
                                          int64_t now_ms) {
  Call call(*this, Call::Kind::kWrite);
  return call.Run<Receipt>([&](Connection& c) -> Result<Receipt> {
    Statements& st = c.statements();
    bool closed = false;
    {
      StatementUse q(st.vote_target);
      q->bind(1, poll_id);
      q->bind(2, option);
      if (!q->executeStep()) return NotFound(PollNotFound(poll_id));
      closed = q->getColumn(0).getInt() != 0;
      if (q->getColumn(1).getInt() == 0) {
        return InvalidArgument("option " + QuoteForMessage(option) +
                               " is not an option of poll " + std::to_string(poll_id));
      }
    }
    if (!closed) {
      StatementUse insert(st.insert_vote);
      insert->bind(1, poll_id);
      insert->bind(2, voter_id);
      insert->bind(3, option);
      insert->bind(4, now_ms);
      insert->bind(5, recorded_by);
      if (insert->executeStep()) {  // a row came back: newly recorded
        return Receipt{insert->getColumn(0).getInt64(),
                       poll_id,
                       voter_id,
                       option,
                       now_ms,
                       recorded_by,
                       /*repeated=*/false};
      }
    }
    // The voter has voted already (the insert did nothing), or the poll is
    // closed; an identical repeat still gets its original receipt.
    StatementUse q(st.find_vote);
    q->bind(1, poll_id);
    q->bind(2, voter_id);
    if (!q->executeStep()) {
      if (closed) return Conflict("poll " + std::to_string(poll_id) + " is closed");
      return Internal("vote of " + QuoteForMessage(voter_id) + " in poll " +
                      std::to_string(poll_id) + " neither inserted nor found");
    }
    const std::string recorded_option = q->getColumn(1).getString();
    if (recorded_option != option) {
      return AlreadyVoted("voter " + QuoteForMessage(voter_id) + " already voted " +
                          QuoteForMessage(recorded_option) + " in poll " +
                          std::to_string(poll_id));
    }
    return Receipt{q->getColumn(0).getInt64(),
                   poll_id,
                   voter_id,
                   recorded_option,
                   q->getColumn(2).getInt64(),
                   q->getColumn(3).getString(),
                   /*repeated=*/true};
  });
}

Result<PollResults> SqliteVoteStore::Results(int64_t poll_id) {
  Call call(*this, Call::Kind::kRead);
  return call.Run<PollResults>([&](Connection& c) -> Result<PollResults> {
    Statements& st = c.statements();
    Result<Poll> poll = ReadPoll(st, poll_id);
    if (!poll.ok()) return poll.status();
    PollResults results;
    results.poll = std::move(poll).value();
    StatementUse q(st.count_votes);
    q->bind(1, poll_id);
    while (q->executeStep()) {
      const int64_t votes = q->getColumn(1).getInt64();
      results.counts.push_back(OptionCount{q->getColumn(0).getString(), votes});
      results.total += votes;
    }
    return results;
  });
}

Result<std::vector<Poll>> SqliteVoteStore::ListPolls(int limit) {
  if (limit < 1)
    return InvalidArgument("limit must be >= 1, got " + std::to_string(limit));
  Call call(*this, Call::Kind::kRead);
  return call.Run<std::vector<Poll>>([&](Connection& c) -> Result<std::vector<Poll>> {
    std::vector<Poll> polls;
    StatementUse q(c.statements().list_polls);
    q->bind(1, limit);
    while (q->executeStep()) {  // one row per (poll, option), polls newest first
      const int64_t poll_id = q->getColumn(0).getInt64();
      if (polls.empty() || polls.back().poll_id != poll_id) {
        Poll& poll = polls.emplace_back();
        poll.poll_id = poll_id;
        poll.question = q->getColumn(1).getString();
        poll.closed = q->getColumn(2).getInt() != 0;
        poll.created_at_ms = q->getColumn(3).getInt64();
      }
      polls.back().options.push_back(q->getColumn(4).getString());
    }
    return polls;
  });
}

Result<Poll> SqliteVoteStore::ClosePoll(int64_t poll_id) {
  Call call(*this, Call::Kind::kWrite);
  return call.Run<Poll>([&](Connection& c) -> Result<Poll> {
    Statements& st = c.statements();
    {
      StatementUse update(st.close_poll);
      update->bind(1, poll_id);
      update->exec();  // no change when already closed or absent
    }
    return ReadPoll(st, poll_id);
  });
}

}  // namespace beacon::votes
