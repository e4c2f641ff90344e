#include "metered_handlers.h"

#include <type_traits>

#include "rpc/status_mapping.h"

namespace beacon::replica_svc {
namespace {

// Runs `call` inside a CallScope; a typed error E counts as its code (and is
// rethrown), any other exception as "internal" (CallScope does that). A
// voting call answered UNAVAILABLE is also a busy refusal: only the vote store
// refuses so, from its queue or SQLite's lock alike.
template <class E, class F>
void Measure(metrics::ReplicaMetrics& metrics, const char* service, const char* method,
             F&& call) {
  metrics::CallScope scope(metrics.calls(), service, method);
  try {
    call();
  } catch (const E& e) {
    const StatusCode code = rpc::FromIdlCode(e.code);
    scope.Fail(code);
    if constexpr (std::is_same_v<E, idl::VotingError>) {
      if (code == StatusCode::kUnavailable) metrics.busy_refusals().Increment();
    }
    throw;
  }
}

}  // namespace

void MeteredPrimeHandler::isPrime(idl::PrimeReply& out, int64_t n) {
  Measure<idl::PrimeError>(metrics_, "prime", "isPrime",
                           [&] { inner_->isPrime(out, n); });
}

void MeteredPrimeHandler::countPrimes(idl::CountReply& out, int64_t lo, int64_t hi) {
  Measure<idl::PrimeError>(metrics_, "prime", "countPrimes",
                           [&] { inner_->countPrimes(out, lo, hi); });
}

void MeteredPrimeHandler::ping(std::string& out) {
  Measure<idl::PrimeError>(metrics_, "prime", "ping", [&] { inner_->ping(out); });
}

void MeteredVotingHandler::createPoll(idl::CreatePollReply& out,
                                      const std::string& question,
                                      const std::vector<std::string>& options,
                                      const std::string& request_id) {
  Measure<idl::VotingError>(metrics_, "voting", "createPoll", [&] {
    inner_->createPoll(out, question, options, request_id);
  });
}

void MeteredVotingHandler::castVote(idl::VoteReceipt& out, int64_t poll_id,
                                    const std::string& voter_id,
                                    const std::string& option) {
  Measure<idl::VotingError>(metrics_, "voting", "castVote",
                            [&] { inner_->castVote(out, poll_id, voter_id, option); });
  if (!out.repeated) metrics_.votes_recorded().Increment();
}

void MeteredVotingHandler::results(idl::PollResults& out, int64_t poll_id) {
  Measure<idl::VotingError>(metrics_, "voting", "results",
                            [&] { inner_->results(out, poll_id); });
}

void MeteredVotingHandler::listPolls(idl::PollList& out, int32_t limit) {
  Measure<idl::VotingError>(metrics_, "voting", "listPolls",
                            [&] { inner_->listPolls(out, limit); });
}

void MeteredVotingHandler::closePoll(idl::ClosePollReply& out, int64_t poll_id) {
  Measure<idl::VotingError>(metrics_, "voting", "closePoll",
                            [&] { inner_->closePoll(out, poll_id); });
}

}  // namespace beacon::replica_svc
