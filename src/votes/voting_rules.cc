#include "votes/voting_rules.h"

#include <unordered_map>
#include <utility>

#include "core/clock.h"
#include "core/validation.h"

namespace beacon::votes {
namespace {

Status ValidatePollId(int64_t poll_id) {
  if (poll_id < 1) {
    return InvalidArgument("poll_id must be >= 1, got " + std::to_string(poll_id));
  }
  return Status::Ok();
}

Status ValidateOptions(const std::vector<std::string>& options) {
  if (options.size() < kMinOptions || options.size() > kMaxOptions) {
    return InvalidArgument("options must hold " + std::to_string(kMinOptions) + "-" +
                           std::to_string(kMaxOptions) + " entries, got " +
                           std::to_string(options.size()));
  }
  std::unordered_map<std::string, size_t> first_index;
  for (size_t i = 0; i < options.size(); ++i) {
    const std::string field = "options[" + std::to_string(i) + "]";
    if (Status s = ValidateText(field, options[i], 1, kMaxOptionBytes); !s.ok()) return s;
    auto [it, inserted] = first_index.emplace(options[i], i);
    if (!inserted) {
      return InvalidArgument(field + " " + QuoteForMessage(options[i]) +
                             " duplicates options[" + std::to_string(it->second) + "]");
    }
  }
  return Status::Ok();
}

}  // namespace

VotingRules::VotingRules(VoteStore& store, std::string instance_id, NowMillisFn now_ms)
    : store_(store),
      instance_id_(std::move(instance_id)),
      now_ms_(now_ms ? std::move(now_ms) : NowMillisFn(WallClockMillis)) {}

Result<Poll> VotingRules::CreatePoll(const std::string& question,
                                     const std::vector<std::string>& options,
                                     const std::string& request_id) {
  if (Status s = ValidateText("question", question, 1, kMaxQuestionBytes); !s.ok())
    return s;
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  if (!request_id.empty()) {
    if (Status s = ValidateName("request_id", request_id); !s.ok()) return s;
  }
  return store_.CreatePoll(question, options, request_id, now_ms_());
}

Result<Receipt> VotingRules::CastVote(int64_t poll_id, const std::string& voter_id,
                                      const std::string& option) {
  if (Status s = ValidatePollId(poll_id); !s.ok()) return s;
  if (Status s = ValidateText("voter_id", voter_id, 1, kMaxVoterIdBytes); !s.ok())
    return s;
  if (Status s = ValidateText("option", option, 1, kMaxOptionBytes); !s.ok()) return s;
  return store_.CastVote(poll_id, voter_id, option, instance_id_, now_ms_());
}

Result<PollResults> VotingRules::Results(int64_t poll_id) {
  if (Status s = ValidatePollId(poll_id); !s.ok()) return s;
  return store_.Results(poll_id);
}

Result<std::vector<Poll>> VotingRules::ListPolls(int32_t limit) {
  if (limit == 0) limit = kDefaultListLimit;
  if (limit < 1 || limit > kMaxListLimit) {
    return InvalidArgument(
        "limit must be 0 (default " + std::to_string(kDefaultListLimit) + ") or 1-" +
        std::to_string(kMaxListLimit) + ", got " + std::to_string(limit));
  }
  return store_.ListPolls(limit);
}

Result<Poll> VotingRules::ClosePoll(int64_t poll_id) {
  if (Status s = ValidatePollId(poll_id); !s.ok()) return s;
  return store_.ClosePoll(poll_id);
}

}  // namespace beacon::votes
