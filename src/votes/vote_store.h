// VoteStore: where polls and votes live. The voting rules call it with input
// that VotingRules already validated; the store enforces everything that
// depends on stored state (one vote per voter, closed polls, known options)
// atomically. Backends: SqliteVoteStore (shared file) and PostgresVoteStore
// (a server); OpenVoteStore (open_vote_store.h) picks one by --db.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace beacon::votes {

struct Poll {
  int64_t poll_id = 0;
  std::string question;
  std::vector<std::string> options;
  bool closed = false;
  int64_t created_at_ms = 0;  // wall clock
};

struct Receipt {
  int64_t vote_id = 0;  // names this vote forever; need not follow casting order
  int64_t poll_id = 0;
  std::string voter_id;
  std::string option;
  int64_t cast_at_ms = 0;   // wall clock, when first recorded
  std::string recorded_by;  // instance that recorded it first
  bool repeated = false;    // this call repeated an identical recorded vote
};

struct OptionCount {
  std::string option;
  int64_t votes = 0;
};

struct PollResults {
  Poll poll;
  std::vector<OptionCount> counts;  // poll option order, zeros included
  int64_t total = 0;
};

// Implementations are safe for concurrent use by many threads, and several
// processes may use one database at once. Every method may return
// kUnavailable when the store stayed busy past its deadline (nothing changed)
// or kInternal on an unexpected storage failure.
class VoteStore {
 public:
  virtual ~VoteStore() = default;

  // Creates a poll. If request_id is non-empty and a poll was already created
  // with it, returns that poll unchanged (idempotent retry).
  virtual Result<Poll> CreatePoll(const std::string& question,
                                  const std::vector<std::string>& options,
                                  const std::string& request_id, int64_t now_ms) = 0;

  // Records one vote per (poll, voter). An identical repeat returns the
  // original receipt with repeated = true. kNotFound: unknown poll.
  // kInvalidArgument: option not in the poll. kConflict: poll closed.
  // kAlreadyVoted: the voter chose another option.
  // Checked in that order, except that an identical repeat of a vote
  // recorded before the poll closed still returns its receipt (a retry of an
  // acknowledged vote never fails), and a voter who chose another option
  // gets kAlreadyVoted even on a closed poll.
  virtual Result<Receipt> CastVote(int64_t poll_id, const std::string& voter_id,
                                   const std::string& option,
                                   const std::string& recorded_by, int64_t now_ms) = 0;

  // kNotFound: unknown poll.
  virtual Result<PollResults> Results(int64_t poll_id) = 0;

  // Newest first, at most `limit` polls (limit >= 1).
  virtual Result<std::vector<Poll>> ListPolls(int limit) = 0;

  // Idempotent. kNotFound: unknown poll.
  virtual Result<Poll> ClosePoll(int64_t poll_id) = 0;
};

}  // namespace beacon::votes
