// Session: one client session of Beacon, and the typed client every caller
// uses (client_app, the load engine, the benchmarks, the fault tests). It
// owns the session's registry client, its ServerCache (one lookup per
// service, kept fresh by a watch, balanced by the chosen policy, down marks)
// and its pooled connections to replicas, and runs every call through the
// Failover rule (client/failover.h): a call that fails in the transport
// marks the server down and is retried once on another server, and a call
// not answered within the hedge delay gets a second copy on another server
// (SessionOptions::hedge), the first answer winning. Two copies in flight
// need no second thread: each has its own pooled connection and the session
// waits on both sockets at once (rpc::SocketAttemptWaiter).
//
// Each method returns the reply, or a Status: the server's typed error
// (kInvalidArgument, kNotFound, kAlreadyExists, kConflict, ...), kUnavailable
// when no server could be reached, kInternal when a server failed
// unexpectedly. No exception escapes a call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/failover.h"
#include "client/hedging.h"
#include "core/clock.h"
#include "core/endpoint.h"
#include "core/hot.h"
#include "discovery/registry_failover_client.h"
#include "discovery/server_cache.h"
#include "prime_types.h"
#include "rpc/replica_connection_pool.h"
#include "voting_types.h"

namespace beacon::client {

struct SessionOptions {
  // The registries, all equivalent: the session uses one at a time (starting
  // at a random one) and moves to the next when it fails.
  std::vector<Endpoint> registries{{"127.0.0.1", 9090}};
  // One registry call's connect+send+receive (a watch gets its wait on top):
  // the longest a hung registry can hold up a call that needs a lookup.
  int registry_timeout_ms = 2000;
  // Directory for the server snapshot (discovery::SnapshotFile); "" for none.
  std::string cache_dir;
  // Receives the snapshot's warnings (corrupt file, cannot write); null logs
  // them with spdlog.
  std::function<void(const std::string&)> warn;
  std::string balancer = "round-robin";
  int timeout_ms = 5000;  // one call's send+receive; connects get min(1000, this)
  bool watch = true;      // keep the cached list fresh with a background watch
  int64_t down_cooloff_ms = 5000;
  // Hedged calls (client/hedging.h); client_app's --hedge-ms.
  HedgeOptions hedge;
};

// Not thread-safe as a whole: one thread drives a session (the load engine
// gives each simulated client its own). The cache's background thread is
// internal.
class Session {
 public:
  // kInvalidArgument for a bad balancer name or timeout, or no registry. `clock`
  // (latency, down marks, idle connections) must outlive the session.
  static Result<std::unique_ptr<Session>> Create(
      const SessionOptions& options, const Clock& clock = SystemClock::Instance());
  ~Session();

  // service "prime"
  BEACON_HOT Result<idl::PrimeReply> IsPrime(int64_t n);
  BEACON_HOT Result<idl::CountReply> CountPrimes(int64_t lo, int64_t hi);

  // service "voting". `request_id` makes a retried createPoll create one poll.
  BEACON_HOT Result<idl::CreatePollReply> CreatePoll(
      const std::string& question, const std::vector<std::string>& options,
      const std::string& request_id);
  BEACON_HOT Result<idl::VoteReceipt> CastVote(int64_t poll_id,
                                               const std::string& voter_id,
                                               const std::string& option);
  BEACON_HOT Result<idl::PollResults> Results(int64_t poll_id);
  BEACON_HOT Result<idl::PollList> ListPolls(int32_t limit);
  BEACON_HOT Result<idl::ClosePollReply> ClosePoll(int64_t poll_id);

  discovery::ServerCache& cache() { return *cache_; }
  // The session's registries (which one is in use, where each list came from).
  discovery::RegistryFailoverClient& registry() { return *registry_; }
  const SessionOptions& options() const { return options_; }
  // Retries sent: after a transport failure, or after a busy (kUnavailable)
  // answer (Failover::busy_retries() counts those alone).
  int64_t retries() const { return failover_->retries(); }
  // Hedging: copies sent, copies that answered first, current delays.
  const Failover& failover() const { return *failover_; }

 private:
  Session() = default;

  // Runs one call through the failover rule: send(ReplicaConnection&) sends
  // the request, recv(ReplicaConnection&, T&) reads the reply into the T
  // (stateless: a hedged copy may be read after the call returned); E is the
  // service's IDL exception.
  template <class T, class E, class Send, class Recv>
  BEACON_HOT Result<T> Invoke(const std::string& service, Send send, Recv recv);

  SessionOptions options_;
  std::shared_ptr<discovery::RegistryFailoverClient> registry_;
  std::unique_ptr<rpc::ReplicaConnectionPool> pool_;
  std::unique_ptr<discovery::ServerCache>
      cache_;                              // destroyed before the pool and registry
  std::unique_ptr<AttemptWaiter> waiter_;  // destroyed after failover_
  std::unique_ptr<Failover> failover_;     // destroyed first (refers to cache_, pool_)
};

}  // namespace beacon::client
