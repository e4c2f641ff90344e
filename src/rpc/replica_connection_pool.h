// ReplicaConnectionPool: a session's open connections to replicas, reused
// call after call instead of connecting per call. One replica port carries
// both services (multiplexed "prime" and "voting"), so one connection holds
// a client for each.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "Prime.h"
#include "Voting.h"
#include "core/clock.h"
#include "core/membership.h"
#include "core/mutex.h"
#include "rpc/channel.h"

namespace beacon::rpc {

// One connection to one replica. Not thread-safe: one call at a time.
class ReplicaConnection {
 public:
  explicit ReplicaConnection(std::unique_ptr<Channel> channel);
  idl::PrimeClient& prime() { return *prime_; }
  idl::VotingClient& voting() { return *voting_; }
  Channel& channel() { return *channel_; }
  const Endpoint& endpoint() const { return channel_->endpoint(); }

 private:
  std::unique_ptr<Channel> channel_;
  std::unique_ptr<idl::PrimeClient> prime_;
  std::unique_ptr<idl::VotingClient> voting_;
};

struct PoolOptions {
  ClientOptions client;
  size_t max_idle_per_instance = 4;
  // Idle connections older than this are closed rather than reused, so the
  // server's idle timeout (30 s by default) never closes one under a call.
  int64_t max_idle_ms = 10000;
};

// Safe for concurrent use. Connections are kept per instance id and reused
// only for the same address (an id that moves to a new address gets new
// connections).
class ReplicaConnectionPool {
 public:
  ReplicaConnectionPool(PoolOptions options, const Clock& clock);

  // An idle connection to `instance`, or a new one. kUnavailable (a transport
  // failure: the server is unreachable) when it cannot connect.
  Result<std::unique_ptr<ReplicaConnection>> Acquire(const InstanceInfo& instance);

  // Returns a connection whose last call completed (ok or a typed error).
  // Connections whose call failed in the transport must be dropped instead.
  void Release(const InstanceInfo& instance, std::unique_ptr<ReplicaConnection> conn);

  // Closes every idle connection to `instance_id` (e.g. after a failure).
  void Forget(const std::string& instance_id);

  // Number of connections opened so far (for tests and `servers`).
  int64_t connections_opened() const;

 private:
  static bool SameAddress(const ReplicaConnection& conn, const InstanceInfo& instance);

  const PoolOptions options_;
  const Clock& clock_;
  mutable Mutex mu_;
  // instance id -> idle connections, most recently used last.
  std::map<std::string, std::vector<std::unique_ptr<ReplicaConnection>>> idle_
      GUARDED_BY(mu_);
  int64_t opened_ GUARDED_BY(mu_) = 0;
};

}  // namespace beacon::rpc
