// Failover: the rule every Beacon client call follows, apart from any
// transport. Pick a server of the service from the session's ServerCache,
// call it once through a ServerCall, and
//   - on an answer (a reply or the server's typed error): report success and
//     the latency to the cache (and so to the balancer), return the answer;
//   - on a transport failure: mark the server down in the cache, and retry
//     once on another server (never the one that just failed).
// Every Beacon call is idempotent (identical votes repeat to the original
// receipt, createPoll carries a request id), so the retry never doubles an
// effect. Thrift lives behind ServerCall (src/rpc); tests use fakes.
#pragma once

#include <cstdint>
#include <string>

#include "core/clock.h"
#include "core/membership.h"
#include "core/status.h"
#include "discovery/server_cache.h"

namespace beacon::client {

// How one attempt on one server ended.
struct AttemptOutcome {
  // Ok, or the server's typed error, or why the call could not be made.
  Status status;
  // True when the server could not be reached or did not answer (connect,
  // send, receive, malformed reply): the server may be down. False when the
  // server answered, with a reply or a typed error.
  bool transport_failure = false;
};

// Makes one call on one server. The implementation owns the reply it
// receives (the caller reads it after Run returns). Not required to be
// thread-safe: one call at a time.
class ServerCall {
 public:
  virtual ~ServerCall() = default;
  // Calls `server` once. Never throws.
  virtual AttemptOutcome Attempt(const InstanceInfo& server) = 0;
};

// Applies the failover rule over a session's cache. Not thread-safe (one per
// session, like the session); `cache` and `clock` must outlive it.
class Failover {
 public:
  Failover(discovery::ServerCache& cache, const Clock& clock)
      : cache_(cache), clock_(clock) {}

  // Runs `call` against a server of `service` (retrying once after a
  // transport failure). Returns the answered attempt's status (ok or the
  // server's typed error); the cache's error when no server can be picked
  // (kUnavailable, kInvalidArgument for a malformed service name, ...);
  // kUnavailable naming the last server when both attempts failed in the
  // transport. `served_by`, when given, receives the id of the server that
  // answered ("" when none did).
  Status Run(const std::string& service, ServerCall& call,
             std::string* served_by = nullptr);

  // Calls that needed the retry after a transport failure.
  int64_t retries() const { return retries_; }

 private:
  static constexpr int kMaxAttempts = 2;

  discovery::ServerCache& cache_;
  const Clock& clock_;
  int64_t retries_ = 0;
};

}  // namespace beacon::client
