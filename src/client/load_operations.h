// SessionLoadWorker: the load engine's simulated Beacon client. It owns a
// client::Session (registry lookups and watch, cached list, balancer, pooled
// connections, failover) and makes a weighted mix of Beacon calls on it.
// Used by `client_app load` and the benchmarks.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "client/load_engine.h"
#include "client/session.h"
#include "core/hot.h"

namespace beacon::client {

// Operation names, as they appear in per-operation figures and --mix.
inline constexpr const char* kOpPrime = "prime";  // isPrime(n), n a random 64-bit number
inline constexpr const char* kOpCount = "count";  // countPrimes over count_width numbers
inline constexpr const char* kOpVote = "vote";    // castVote by a new voter

struct SessionWorkload {
  // Relative weights (>= 0, at least one > 0).
  int prime_weight = 1;
  int count_weight = 0;
  int vote_weight = 0;
  uint64_t count_width = 10000;        // count: hi - lo + 1, lo below 10^9
  int64_t poll_id = 0;                 // vote: the poll
  std::vector<std::string> options;    // vote: its options (not empty when voting)
  std::string voter_prefix = "voter";  // vote: voters are prefix-<seq>, all distinct
};

// Not thread-safe (one per engine thread).
class SessionLoadWorker final : public LoadWorker {
 public:
  // The Session's own errors (bad options); kInvalidArgument for weights
  // that are all zero or negative, a zero count width, or votes without a
  // poll and its options. Equal seeds give equal call sequences (the
  // benchmarks compare a plain client with the same numbers).
  static Result<std::unique_ptr<LoadWorker>> Create(const SessionOptions& options,
                                                    SessionWorkload workload,
                                                    uint64_t seed);

  BEACON_HOT CallOutcome Call() override;
  int64_t Retries() const override { return session_->retries(); }
  // {"registry_lookups": lookups this session made, over every service,
  //  "hedges_sent"/"hedges_won": second copies sent after the hedge delay,
  //  and those that answered first, "busy_retries": retries after a
  //  server's kUnavailable answer (also in Retries())}.
  std::map<std::string, int64_t> Counters() const override;

 private:
  // Call's count and vote operations, out of line: their locals (a voter id,
  // a vote's reply) would otherwise widen every isPrime call's stack frame.
  [[gnu::noinline]] CallOutcome CountCall();
  [[gnu::noinline]] CallOutcome VoteCall();
  SessionLoadWorker(std::unique_ptr<Session> session, SessionWorkload workload,
                    uint64_t seed);

  std::unique_ptr<Session> session_;
  const SessionWorkload workload_;
  std::mt19937_64 rng_;
  std::discrete_distribution<int> pick_;
  bool mixed_ = false;  // more than one operation has weight
  int only_op_ = 0;     // the operation when !mixed_
  int64_t votes_cast_ = 0;
};

}  // namespace beacon::client
