#include "votes/sqlite_vote_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "core/mutex.h"
#include "core/validation.h"
#include "votes/schema_migrations.h"
#include "votes/sqlite_connection.h"
#include "votes/sqlite_transaction.h"
#include "votes/wal_checkpointer.h"
#include "votes/writer_queue.h"
#include "votes/writer_turn.h"

namespace beacon::votes {
namespace {

using sqlite::Connection;
using sqlite::SteadyClock;
using sqlite::TimePoint;

// The statements of the schema, prepared once per connection and reused.
struct Statements final : sqlite::ConnectionState {
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
        // Measured against a single INSERT ... SELECT ... WHERE the poll is
        // open and has the option (so that a new vote is one statement): no
        // faster, 38-40 against 41-48 us of CPU per vote in a standalone
        // program with this schema. So the poll is checked first.
        // ?6 is the vote_id, from this process's block of vote_ids (below).
        insert_vote(db,
                    "INSERT INTO votes (poll_id, voter_id, vote_id, option_text,"
                    " cast_at_ms, recorded_by) VALUES (?1, ?2, ?6, ?3, ?4, ?5)"
                    " ON CONFLICT (poll_id, voter_id) DO NOTHING RETURNING vote_id"),
        reserve_vote_ids(db,
                         "UPDATE vote_ids SET last = last + ?1 WHERE only_row = 1"
                         " RETURNING last"),
        find_vote(db,
                  "SELECT vote_id, option_text, cast_at_ms, recorded_by FROM votes"
                  " WHERE poll_id = ?1 AND voter_id = ?2"),
        // The poll's key range of votes, counted by Results (there is no
        // index by option: a vote writes one B-tree). Counting here rather
        // than with GROUP BY spares SQLite a sort of every row: 100,000
        // votes in 31 ms with GROUP BY, 11 ms for the scan alone.
        poll_vote_options(db, "SELECT option_text FROM votes WHERE poll_id = ?1"),
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
  SQLite::Statement reserve_vote_ids;
  SQLite::Statement find_vote;
  SQLite::Statement poll_vote_options;
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

TimePoint Deadline(int ms) { return SteadyClock::now() + std::chrono::milliseconds(ms); }

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

// The vote_ids this process may give out, reserved a block at a time from
// the table vote_ids (db/002_votes_one_btree.sql): moving vote_ids.last once
// per block instead of once per batch spares every batch a second page
// (written to the WAL, and read again after another process's commit). A
// block is reserved inside a batch's transaction, so it is this process's
// only once that batch commits: EndBatch drops a block whose batch failed,
// before the next batch can use it (another process may reserve the same
// ids then). Ids are unique forever but not in commit order, and a process
// that stops leaves the rest of its block unused.
// Used only by the writer queue's leader (one batch at a time); the mutex
// makes that hand-over between leader threads explicit.
class VoteIdBlock {
 public:
  static constexpr int64_t kSize = 1024;

  // The id the next new vote takes, reserving a block (a write in the
  // current transaction) when none is left. Throws SQLite::Exception.
  int64_t Peek(Statements& st) EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (next_ != end_) return next_;
    }
    // No lock held across the statement; only the leader gets here.
    StatementUse reserve(st.reserve_vote_ids);
    reserve->bind(1, kSize);
    if (!reserve->executeStep()) throw std::runtime_error("vote_ids has no row");
    const int64_t last = reserve->getColumn(0).getInt64();
    MutexLock lock(mu_);
    end_ = last + 1;
    next_ = end_ - kSize;
    reserved_in_batch_ = true;
    return next_;
  }
  // The id from Peek was stored (in the current batch).
  void Take() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ++next_;
  }
  // The current batch committed (its reservation is this process's) or
  // failed (a reservation it made is undone, so the block is dropped).
  void EndBatch(bool committed) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (!committed && reserved_in_batch_) next_ = end_ = 0;
    reserved_in_batch_ = false;
  }

 private:
  Mutex mu_;
  int64_t next_ GUARDED_BY(mu_) = 0;  // [next_, end_): ids not given out yet
  int64_t end_ GUARDED_BY(mu_) = 0;
  bool reserved_in_batch_ GUARDED_BY(mu_) = false;
};

}  // namespace

// The store's concurrency machinery. Declaration order is destruction
// order in reverse: the queue (no writer may be waiting), then the pool,
// then the checkpointer the pool's connections report to.
struct SqliteVoteStore::Machinery {
  Machinery(const std::string& path, const SqliteOptions& options)
      : checkpointer(path, CheckpointOptionsOf(options)),
        pool(path, options.max_connections, &checkpointer),
        batch_options(BatchOptionsOf(options)),
        queue(WriterQueueLimits{options.max_batch_writes, options.max_batch_bytes},
              [this](WriterQueue::Job& leader, const WriterQueue::TakeBatch& take) {
                checkpointer.PaceWriter();
                sqlite::RunWriteBatch(pool, batch_options, leader, take);
                // The leader is in every batch; all of it committed or none.
                vote_ids.EndBatch(static_cast<sqlite::WriteJob&>(leader).committed);
              }) {}

  static sqlite::CheckpointOptions CheckpointOptionsOf(const SqliteOptions& options) {
    sqlite::CheckpointOptions c;
    c.passive_after_frames = options.checkpoint_after_frames;
    c.restart_after_frames = options.restart_checkpoint_after_frames;
    c.busy_ms = options.busy_deadline_ms;
    c.restart_wait_ms = options.restart_checkpoint_wait_ms;
    return c;
  }
  static sqlite::BatchOptions BatchOptionsOf(const SqliteOptions& options) {
    sqlite::BatchOptions b;
    b.busy_ms = options.busy_deadline_ms;
    b.hold_before_commit = std::chrono::microseconds(options.debug_hold_before_commit_us);
    return b;
  }

  sqlite::WalCheckpointer checkpointer;
  sqlite::ConnectionPool pool;
  std::unique_ptr<WriterTurn> turn;    // set by Open, before any write; may stay null
  sqlite::BatchOptions batch_options;  // its turn is set with `turn`
  VoteIdBlock vote_ids;                // used by the queue's batches
  WriterQueue queue;
};

SqliteVoteStore::SqliteVoteStore(std::string path, SqliteOptions options)
    : path_(std::move(path)),
      options_(options),
      machinery_(std::make_unique<Machinery>(path_, options_)) {}

SqliteVoteStore::~SqliteVoteStore() = default;

SqliteStats SqliteVoteStore::stats() const {
  const WriterQueue::Stats q = machinery_->queue.stats();
  const sqlite::CheckpointStats c = machinery_->checkpointer.stats();
  SqliteStats s;
  s.write_batches = q.batches;
  s.batched_writes = q.jobs;
  s.expired_writes = q.expired;
  s.largest_batch = static_cast<int64_t>(q.largest_batch);
  s.queued_writes = static_cast<int64_t>(machinery_->queue.queued());
  s.passive_checkpoints = c.passive;
  s.restart_checkpoints = c.restart;
  s.skipped_checkpoints = c.skipped;
  s.avoided_restarts = c.restart_avoided;
  s.blocked_restarts = c.restart_blocked;
  s.paced_batches = c.paced;
  s.longest_restart_us = c.longest_restart_us;
  s.longest_passive_us = c.longest_passive_us;
  s.failed_checkpoints = c.failed;
  s.largest_wal_frames = c.largest_wal_frames;
  if (machinery_->turn) {
    const WriterTurn::Stats t = machinery_->turn->stats();
    s.turn_waits = t.waited;
    s.turn_timeouts = t.timed_out;
    s.turn_owner_died = t.owner_died;
    s.turn_failures = t.failed;
  }
  return s;
}

template <class T, class Body>
Result<T> SqliteVoteStore::Write(size_t bytes, bool isolated, Body&& body) {
  std::optional<Result<T>> result;
  sqlite::WriteJob job(bytes, Deadline(options_.busy_deadline_ms), isolated,
                       [&](Connection& c) -> Status {
                         result.emplace(body(c.state<Statements>()));
                         return result->status();
                       });
  if (Status s = machinery_->queue.Submit(job, options_.busy_deadline_ms); !s.ok()) {
    return s;
  }
  if (job.committed && result.has_value()) return std::move(*result);
  return job.outcome;
}

template <class T, class Body>
Result<T> SqliteVoteStore::Read(Body&& body) {
  return sqlite::RunTransaction<T>(
      machinery_->pool, /*write=*/false, Deadline(options_.busy_deadline_ms),
      options_.busy_deadline_ms, sqlite::StorageFailure::kInternal,
      [&](Connection& c) { return body(c.state<Statements>()); });
}

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
  if (options.max_batch_writes < 1 || options.max_batch_bytes < 1) {
    return InvalidArgument("max_batch_writes and max_batch_bytes must be >= 1");
  }
  if (options.checkpoint_after_frames < 1 ||
      options.restart_checkpoint_after_frames <= options.checkpoint_after_frames) {
    return InvalidArgument(
        "checkpoint_after_frames must be >= 1 and below "
        "restart_checkpoint_after_frames, got " +
        std::to_string(options.checkpoint_after_frames) + " and " +
        std::to_string(options.restart_checkpoint_after_frames));
  }
  if (options.restart_checkpoint_wait_ms < 1 ||
      options.restart_checkpoint_wait_ms > options.busy_deadline_ms) {
    return InvalidArgument("restart_checkpoint_wait_ms must be 1..busy_deadline_ms (" +
                           std::to_string(options.busy_deadline_ms) + "), got " +
                           std::to_string(options.restart_checkpoint_wait_ms));
  }
  if (options.debug_hold_before_commit_us < 0) {
    return InvalidArgument("debug_hold_before_commit_us must be >= 0");
  }
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) {
    return InvalidArgument("vote database path must name a file, got " +
                           QuoteForMessage(path));
  }
  std::unique_ptr<SqliteVoteStore> store(new SqliteVoteStore(path, options));
  const int latest = LatestSchemaVersion();
  Result<int> migrated = sqlite::RunTransaction<int>(
      store->machinery_->pool, /*write=*/true, Deadline(options.busy_deadline_ms),
      options.busy_deadline_ms, sqlite::StorageFailure::kUnavailable,
      [&](Connection& c) -> Result<int> {
        // Read inside BEGIN IMMEDIATE: a replica that lost the race to migrate
        // sees the version the winner committed and applies nothing.
        const int current = c.db().execAndGet("PRAGMA user_version").getInt();
        if (current > latest) {
          return Internal("schema version " + std::to_string(current) +
                          " is newer than this build knows (" + std::to_string(latest) +
                          ")");
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
  if (options.writer_turn) {
    // After the migration, so an unusable database is reported as such.
    auto turn = WriterTurn::Open(path + "-writer", Deadline(options.busy_deadline_ms));
    if (!turn.ok()) {
      return Status(turn.status().code(), "cannot open vote database \"" + path +
                                              "\": " + turn.status().message());
    }
    store->machinery_->turn = std::move(turn).value();
    store->machinery_->batch_options.turn = store->machinery_->turn.get();
  }
  return store;
}

namespace {

// Bytes of request text a write adds to its batch (for the batch bound).
size_t RequestBytes(const std::vector<std::string>& texts) {
  size_t bytes = 0;
  for (const std::string& t : texts) bytes += t.size();
  return bytes + 64;  // ids, times, and the row overhead
}

}  // namespace

Result<Poll> SqliteVoteStore::CreatePoll(const std::string& question,
                                         const std::vector<std::string>& options,
                                         const std::string& request_id, int64_t now_ms) {
  std::vector<std::string> texts = options;
  texts.push_back(question);
  texts.push_back(request_id);
  // Isolated: several inserts that must stand or fall together.
  return Write<Poll>(RequestBytes(texts), /*isolated=*/true,
                     [&](Statements& st) -> Result<Poll> {
                       if (!request_id.empty()) {
                         StatementUse q(st.find_poll_by_request);
                         q->bind(1, request_id);
                         if (q->executeStep())
                           return ReadPoll(st, q->getColumn(0).getInt64());
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
                         if (!insert->executeStep())
                           return Internal("insert into polls returned no id");
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
  // Not isolated: its one write is a single statement that either inserts
  // the vote (and nothing after it can fail the call) or changes nothing.
  // (Reserving a block of ids, when one is due, is a write too, but one
  // that is harmless to keep when the vote then fails: ids are skipped.
  // It must stay outside any savepoint: were this body isolated, a rollback
  // to its savepoint would undo a reservation VoteIdBlock still counts as
  // made, and ids could repeat.)
  return Write<Receipt>(
      RequestBytes({voter_id, option, recorded_by}),
      /*isolated=*/false, [&](Statements& st) -> Result<Receipt> {
        bool closed = false;
        {
          StatementUse q(st.vote_target);
          q->bind(1, poll_id);
          q->bind(2, option);
          if (!q->executeStep()) return NotFound(PollNotFound(poll_id));
          closed = q->getColumn(0).getInt() != 0;
          if (q->getColumn(1).getInt() == 0) {
            return InvalidArgument("option " + QuoteForMessage(option) +
                                   " is not an option of poll " +
                                   std::to_string(poll_id));
          }
        }
        if (!closed) {
          const int64_t vote_id = machinery_->vote_ids.Peek(st);
          StatementUse insert(st.insert_vote);
          insert->bind(1, poll_id);
          insert->bind(2, voter_id);
          insert->bind(3, option);
          insert->bind(4, now_ms);
          insert->bind(5, recorded_by);
          insert->bind(6, vote_id);
          if (insert->executeStep()) {  // a row came back: newly recorded
            machinery_->vote_ids.Take();
            return Receipt{vote_id,           poll_id, voter_id, option, now_ms,
                           recorded_by,
                           /*repeated=*/false};
          }
        }
        // The voter has voted already (the insert did nothing), or the poll
        // is closed; an identical repeat still gets its original receipt.
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
  return Read<PollResults>([&](Statements& st) -> Result<PollResults> {
    Result<Poll> poll = ReadPoll(st, poll_id);
    if (!poll.ok()) return poll.status();
    PollResults results;
    results.poll = std::move(poll).value();
    std::map<std::string, int64_t, std::less<>> votes_of;  // option -> votes
    for (const std::string& option : results.poll.options) votes_of[option] = 0;
    StatementUse q(st.poll_vote_options);
    q->bind(1, poll_id);
    while (q->executeStep()) {
      const SQLite::Column option = q->getColumn(0);
      const std::string_view text(static_cast<const char*>(option.getBlob()),
                                  static_cast<size_t>(option.getBytes()));
      auto it = votes_of.find(text);
      // The foreign key to poll_options keeps every vote's option listed.
      if (it == votes_of.end()) {
        return Internal("vote in poll " + std::to_string(poll_id) + " for " +
                        QuoteForMessage(std::string(text)) + ", not an option");
      }
      ++it->second;
      ++results.total;
    }
    for (const std::string& option : results.poll.options)
      results.counts.push_back(OptionCount{option, votes_of[option]});
    return results;
  });
}

Result<std::vector<Poll>> SqliteVoteStore::ListPolls(int limit) {
  if (limit < 1)
    return InvalidArgument("limit must be >= 1, got " + std::to_string(limit));
  return Read<std::vector<Poll>>([&](Statements& st) -> Result<std::vector<Poll>> {
    std::vector<Poll> polls;
    StatementUse q(st.list_polls);
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
  // Not isolated: one UPDATE, then reads.
  return Write<Poll>(RequestBytes({}), /*isolated=*/false,
                     [&](Statements& st) -> Result<Poll> {
                       {
                         StatementUse update(st.close_poll);
                         update->bind(1, poll_id);
                         update->exec();  // no change when already closed or absent
                       }
                       return ReadPoll(st, poll_id);
                     });
}

}  // namespace beacon::votes
