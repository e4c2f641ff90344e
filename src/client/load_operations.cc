#include "client/load_operations.h"

namespace beacon::client {
namespace {

enum Op { kPrime = 0, kCount = 1, kVote = 2 };

template <class Reply>
CallOutcome Outcome(const char* op, Result<Reply>&& r) {
  if (BEACON_UNLIKELY(!r.ok())) return CallOutcome{op, r.status(), ""};
  return CallOutcome{op, Status::Ok(), std::move(r->served_by)};
}

}  // namespace

Result<std::unique_ptr<LoadWorker>> SessionLoadWorker::Create(
    const SessionOptions& options, SessionWorkload workload, uint64_t seed) {
  if (workload.prime_weight < 0 || workload.count_weight < 0 ||
      workload.vote_weight < 0 ||
      workload.prime_weight + workload.count_weight + workload.vote_weight == 0) {
    return InvalidArgument("a load needs non-negative weights, at least one positive");
  }
  if (workload.count_weight > 0 && workload.count_width == 0) {
    return InvalidArgument("a count workload needs a width of at least 1");
  }
  if (workload.vote_weight > 0 && (workload.poll_id < 1 || workload.options.empty())) {
    return InvalidArgument("a vote workload needs a poll and its options");
  }
  auto session = Session::Create(options);
  if (!session.ok()) return session.status();
  return std::unique_ptr<LoadWorker>(
      new SessionLoadWorker(std::move(session).value(), std::move(workload), seed));
}

SessionLoadWorker::SessionLoadWorker(std::unique_ptr<Session> session,
                                     SessionWorkload workload, uint64_t seed)
    : session_(std::move(session)),
      workload_(std::move(workload)),
      rng_(seed),
      pick_({static_cast<double>(workload_.prime_weight),
             static_cast<double>(workload_.count_weight),
             static_cast<double>(workload_.vote_weight)}) {
  const int weighted = (workload_.prime_weight > 0) + (workload_.count_weight > 0) +
                       (workload_.vote_weight > 0);
  mixed_ = weighted > 1;
  only_op_ = workload_.prime_weight > 0   ? kPrime
             : workload_.count_weight > 0 ? kCount
                                          : kVote;
}

CallOutcome SessionLoadWorker::Call() {
  // A single operation draws no number for the choice, so its numbers match
  // a plain worker's seeded with the same seed.
  const int op = BEACON_UNLIKELY(mixed_) ? pick_(rng_) : only_op_;
  switch (op) {
    case kPrime:
      return Outcome(kOpPrime, session_->IsPrime(static_cast<int64_t>(rng_())));
    case kCount:
      return CountCall();
    default:
      return VoteCall();
  }
}

CallOutcome SessionLoadWorker::CountCall() {
  const auto lo = static_cast<int64_t>(rng_() % 1000000000ULL);
  return Outcome(kOpCount, session_->CountPrimes(
                               lo, lo + static_cast<int64_t>(workload_.count_width) - 1));
}

CallOutcome SessionLoadWorker::VoteCall() {
  const std::string voter = workload_.voter_prefix + "-" + std::to_string(votes_cast_++);
  const std::string& option = workload_.options[rng_() % workload_.options.size()];
  return Outcome(kOpVote, session_->CastVote(workload_.poll_id, voter, option));
}

std::map<std::string, int64_t> SessionLoadWorker::Counters() const {
  int64_t lookups = 0;
  for (const auto& service : session_->cache().Services()) {
    lookups += session_->cache().View(service).registry_lookups;
  }
  return {{"registry_lookups", lookups},
          {"hedges_sent", session_->failover().hedges_sent()},
          {"hedges_won", session_->failover().hedges_won()},
          {"busy_retries", session_->failover().busy_retries()}};
}

}  // namespace beacon::client
