// The stateful voting service offered by every replica (multiplexed name
// "voting"). State lives only in the shared database, so any replica answers
// any call and sees every vote any replica acknowledged.
//
// Limits: question 1-500 bytes of UTF-8 text; 2-32 options, each 1-100 bytes,
// distinct; voter ids 1-64 bytes; request ids 0-64 characters of
// [A-Za-z0-9._-]. Text may hold any Unicode except control characters and is
// stored and returned verbatim.
// Every call is safe to retry on another replica (see each method).

include "errors.thrift"

namespace cpp beacon.idl

struct Poll {
  1: i64 poll_id,
  2: string question,
  3: list<string> options,
  4: bool closed,
  5: i64 created_at_ms,
}

struct CreatePollReply {
  1: Poll poll,
  2: string served_by,
}

struct VoteReceipt {
  1: i64 vote_id,
  2: i64 poll_id,
  3: string voter_id,
  4: string option,
  5: i64 cast_at_ms,
  // The replica that recorded the vote first.
  6: string recorded_by,
  // True when this call repeated an already recorded identical vote.
  7: bool repeated,
  8: string served_by,
}

struct OptionCount {
  1: string option,
  2: i64 votes,
}

struct PollResults {
  1: Poll poll,
  2: list<OptionCount> counts,   // in the poll's option order, zeros included
  3: i64 total,
  4: string served_by,
}

struct PollList {
  1: list<Poll> polls,           // newest first
  2: string served_by,
}

struct ClosePollReply {
  1: Poll poll,
  2: string served_by,
}

service Voting {
  // Creates a poll. request_id (optional) makes the call idempotent: a repeat
  // with the same request_id returns the poll the first call created, so a
  // client may retry on another replica. INVALID_ARGUMENT (field named).
  CreatePollReply createPoll(1: string question, 2: list<string> options,
                             3: string request_id)
      throws (1: errors.VotingError err),

  // One vote per (poll, voter), enforced by the database. An identical repeat
  // returns the original receipt (repeated = true). A different option from
  // the same voter: ALREADY_VOTED. Unknown poll: NOT_FOUND. Option not in the
  // poll: INVALID_ARGUMENT. Closed poll: CONFLICT. Database busy past the
  // deadline: UNAVAILABLE (nothing recorded; retry).
  VoteReceipt castVote(1: i64 poll_id, 2: string voter_id, 3: string option)
      throws (1: errors.VotingError err),

  // Counts per option. NOT_FOUND for an unknown poll.
  PollResults results(1: i64 poll_id) throws (1: errors.VotingError err),

  // Every poll, newest first, at most `limit` (1..1000; 0 means 100).
  PollList listPolls(1: i32 limit) throws (1: errors.VotingError err),

  // Closes a poll to further votes. Idempotent. NOT_FOUND for an unknown poll.
  ClosePollReply closePoll(1: i64 poll_id) throws (1: errors.VotingError err),
}
