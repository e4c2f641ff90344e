#include "voting_handler.h"

#include "rpc/status_mapping.h"

namespace beacon::replica_svc {
namespace {

idl::Poll ToIdl(const votes::Poll& p) {
  idl::Poll out;
  out.poll_id = p.poll_id;
  out.question = p.question;
  out.options = p.options;
  out.closed = p.closed;
  out.created_at_ms = p.created_at_ms;
  return out;
}

// Unwraps a result or throws the IDL's typed error.
template <class T>
T OrThrow(Result<T> r) {
  if (!r.ok()) throw rpc::ToIdlError<idl::VotingError>(r.status());
  return std::move(r).value();
}

}  // namespace

void VotingHandler::createPoll(idl::CreatePollReply& out, const std::string& question,
                               const std::vector<std::string>& options,
                               const std::string& request_id) {
  out.poll = ToIdl(OrThrow(rules_.CreatePoll(question, options, request_id)));
  out.served_by = served_by_;
}

void VotingHandler::castVote(idl::VoteReceipt& out, int64_t poll_id,
                             const std::string& voter_id, const std::string& option) {
  const votes::Receipt r = OrThrow(rules_.CastVote(poll_id, voter_id, option));
  out.vote_id = r.vote_id;
  out.poll_id = r.poll_id;
  out.voter_id = r.voter_id;
  out.option = r.option;
  out.cast_at_ms = r.cast_at_ms;
  out.recorded_by = r.recorded_by;
  out.repeated = r.repeated;
  out.served_by = served_by_;
}

void VotingHandler::results(idl::PollResults& out, int64_t poll_id) {
  const votes::PollResults r = OrThrow(rules_.Results(poll_id));
  out.poll = ToIdl(r.poll);
  for (const auto& c : r.counts) {
    idl::OptionCount oc;
    oc.option = c.option;
    oc.votes = c.votes;
    out.counts.push_back(std::move(oc));
  }
  out.total = r.total;
  out.served_by = served_by_;
}

void VotingHandler::listPolls(idl::PollList& out, int32_t limit) {
  const std::vector<votes::Poll> polls = OrThrow(rules_.ListPolls(limit));
  out.polls.reserve(polls.size());
  for (const auto& p : polls) out.polls.push_back(ToIdl(p));
  out.served_by = served_by_;
}

void VotingHandler::closePoll(idl::ClosePollReply& out, int64_t poll_id) {
  out.poll = ToIdl(OrThrow(rules_.ClosePoll(poll_id)));
  out.served_by = served_by_;
}

}  // namespace beacon::replica_svc
