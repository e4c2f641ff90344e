// VotingHandler: the Thrift face of the voting rules. Only translates between
// IDL structs and votes:: types and stamps served_by; every rule lives in
// votes::VotingRules and the VoteStore.
#pragma once

#include <string>

#include "Voting.h"
#include "votes/voting_rules.h"

namespace beacon::replica_svc {

// Safe for concurrent use (VotingRules and the store are).
class VotingHandler final : public idl::VotingIf {
 public:
  VotingHandler(votes::VotingRules& rules, std::string served_by)
      : rules_(rules), served_by_(std::move(served_by)) {}

  void createPoll(idl::CreatePollReply& out, const std::string& question,
                  const std::vector<std::string>& options,
                  const std::string& request_id) override;
  void castVote(idl::VoteReceipt& out, int64_t poll_id, const std::string& voter_id,
                const std::string& option) override;
  void results(idl::PollResults& out, int64_t poll_id) override;
  void listPolls(idl::PollList& out, int32_t limit) override;
  void closePoll(idl::ClosePollReply& out, int64_t poll_id) override;

 private:
  votes::VotingRules& rules_;
  const std::string served_by_;
};

}  // namespace beacon::replica_svc
