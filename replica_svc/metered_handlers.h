// Metered handlers: wrap the replica's Thrift handlers and count and time
// every call in ReplicaMetrics, by service, method and outcome (the code of
// the typed error it threw, "ok" otherwise), plus the votes recorded and the
// busy refusals (voting calls answered UNAVAILABLE). They only measure; the
// wrapped handler decides everything.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "Prime.h"
#include "Voting.h"
#include "metrics/replica_metrics.h"

namespace beacon::replica_svc {

// Safe for concurrent use (when the wrapped handler is). `metrics` must
// outlive it.
class MeteredPrimeHandler final : public idl::PrimeIf {
 public:
  MeteredPrimeHandler(std::shared_ptr<idl::PrimeIf> inner,
                      metrics::ReplicaMetrics& metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}
  void isPrime(idl::PrimeReply& out, int64_t n) override;
  void countPrimes(idl::CountReply& out, int64_t lo, int64_t hi) override;
  void ping(std::string& out) override;

 private:
  std::shared_ptr<idl::PrimeIf> inner_;
  metrics::ReplicaMetrics& metrics_;
};

// Safe for concurrent use (when the wrapped handler is). `metrics` must
// outlive it.
class MeteredVotingHandler final : public idl::VotingIf {
 public:
  MeteredVotingHandler(std::shared_ptr<idl::VotingIf> inner,
                       metrics::ReplicaMetrics& metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}
  void createPoll(idl::CreatePollReply& out, const std::string& question,
                  const std::vector<std::string>& options,
                  const std::string& request_id) override;
  void castVote(idl::VoteReceipt& out, int64_t poll_id, const std::string& voter_id,
                const std::string& option) override;
  void results(idl::PollResults& out, int64_t poll_id) override;
  void listPolls(idl::PollList& out, int32_t limit) override;
  void closePoll(idl::ClosePollReply& out, int64_t poll_id) override;

 private:
  std::shared_ptr<idl::VotingIf> inner_;
  metrics::ReplicaMetrics& metrics_;
};

}  // namespace beacon::replica_svc
