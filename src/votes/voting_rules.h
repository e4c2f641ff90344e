// VotingRules: the stateless checks in front of a VoteStore. Every input that
// arrives from the network is validated here (field named in the error)
// before the store sees it; the store then enforces what depends on stored
// state. Mirrors idl/voting.thrift, so a Thrift handler only translates.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "votes/vote_store.h"

namespace beacon::votes {

// Limits from idl/voting.thrift.
inline constexpr size_t kMaxQuestionBytes = 500;
inline constexpr size_t kMinOptions = 2;
inline constexpr size_t kMaxOptions = 32;
inline constexpr size_t kMaxOptionBytes = 100;
inline constexpr size_t kMaxVoterIdBytes = 64;
inline constexpr int kDefaultListLimit = 100;  // used when limit is 0
inline constexpr int kMaxListLimit = 1000;

// Safe for concurrent use when the store is; it holds no mutable state.
class VotingRules {
 public:
  // Wall-clock milliseconds since the Unix epoch, stamped on polls and votes.
  using NowMillisFn = std::function<int64_t()>;

  // `store` must outlive this object. `instance_id` is recorded with every
  // vote this replica records first. `now_ms` defaults to WallClockMillis.
  VotingRules(VoteStore& store, std::string instance_id, NowMillisFn now_ms = nullptr);

  // question: 1-500 bytes of UTF-8 text without control characters.
  // options: 2-32 distinct entries of 1-100 bytes of such text.
  // request_id: empty, or 1-64 characters of [A-Za-z0-9._-]; a repeat returns
  // the poll the first call created.
  Result<Poll> CreatePoll(const std::string& question,
                          const std::vector<std::string>& options,
                          const std::string& request_id);

  // poll_id >= 1; voter_id 1-64 bytes of text; option 1-100 bytes of text.
  // Then the store's rules: kNotFound, kInvalidArgument (not an option),
  // kConflict (closed), kAlreadyVoted; an identical repeat returns the
  // original receipt with repeated = true.
  Result<Receipt> CastVote(int64_t poll_id, const std::string& voter_id,
                           const std::string& option);

  // poll_id >= 1. kNotFound for an unknown poll.
  Result<PollResults> Results(int64_t poll_id);

  // limit 0 means 100; otherwise 1..1000. Newest first.
  Result<std::vector<Poll>> ListPolls(int32_t limit);

  // poll_id >= 1. Idempotent. kNotFound for an unknown poll.
  Result<Poll> ClosePoll(int64_t poll_id);

  const std::string& instance_id() const { return instance_id_; }

 private:
  VoteStore& store_;
  const std::string instance_id_;
  const NowMillisFn now_ms_;
};

}  // namespace beacon::votes
