// Failover: the rule every Beacon client call follows, apart from any
// transport. Pick a server of the service from the session's ServerCache,
// send the call there as one copy (a ServerCall starts copies), and
//   - on an answer (a reply or the server's typed error): report success and
//     the latency to the cache (and so to the balancer), return the answer;
//   - on a transport failure: mark the server down in the cache, and retry
//     once on another server (never the one that just failed);
//   - hedging (client/hedging.h): when the copy has not answered within the
//     hedge delay and the hedge budget allows, send a second copy to another
//     server and return whichever answers first (reply or typed error;
//     except that a kUnavailable answer, "nothing done, try later", waits
//     for the other copy while it is out, so that a hedge never reports
//     "failed" for a call the other copy completes). The
//     other copy is abandoned: it keeps its own connection, which is not
//     reused until its answer is read ("drained"; done at the start of later
//     calls) or it is closed (when it reaches the call timeout, or the
//     session ends). While a session has an abandoned copy on a server it
//     picks other servers, so one stalled replica costs each session one
//     hedge, not one per call.
//   - a typed kUnavailable answer ("nothing done, try later", e.g. the
//     replica's database stayed locked past its --busy-timeout-ms) that no
//     other copy of the call improves on is retried: after a short backoff
//     (kBusyBackoffUs, doubling), on another server when there is one (else
//     the same), at most kMaxBusyRetries times, and only while the call's
//     deadline (its start + call_timeout_us, the session's --timeout-ms)
//     leaves room after the backoff for another answer as slow as the busy
//     one, or for kBusyRetryRoomUs if that is less. A retry's copies are
//     waited on only until that deadline; past it they are abandoned
//     (drained as below) and the call returns the busy answer. With the
//     defaults (replica --busy-timeout-ms 2000, client --timeout-ms 5000) a
//     busy answer comes after 2 s or more (a vote queued behind its
//     replica's waiting leader may get it later) and is retried, so a write
//     lock held through a pause of up to about 4.5 s costs a slow call, not
//     a failed one.
//     Other typed errors are answers and are never retried.
// A call has at most two copies in flight at once (first + hedge, or first
// + retry after a transport failure; a busy retry starts afresh with one
// copy, and may be hedged again). The cache is told exactly one outcome per
// copy it picked, abandoned copies included (when drained: success and
// latency; when closed: transport failure).
// Every Beacon call is idempotent (identical votes repeat to the original
// receipt, createPoll carries a request id), so a retry or a hedge never
// doubles an effect. Thrift lives behind ServerCall and AttemptWaiter
// (src/rpc); tests use fakes.
// The common case costs what an unhedged call costs: the first copy is read
// with a wait bounded by the hedge delay (Attempt::FinishWithin, a blocking
// read with a receive timeout, no poll; a plain read when the budget has no
// token, as no hedge could go out), and only when that wait ends with no
// answer does the call wait on several copies at once (AttemptWaiter).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/hedging.h"
#include "core/clock.h"
#include "core/hot.h"
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

// One copy of a call, sent to one server, with its own connection.
// Destroying an attempt whose answer was not read closes its connection (it
// is never reused with a reply on the way). Not thread-safe.
class Attempt {
 public:
  virtual ~Attempt() = default;
  // Reads the answer, blocking until it arrives or the transport gives up
  // (its own call timeout). Call at most once. Never throws.
  virtual AttemptOutcome Finish() = 0;
  // Finish, if the answer starts arriving within about `timeout_us`;
  // otherwise returns nullopt having read nothing: the copy stays in flight
  // and Finish, FinishWithin or AttemptWaiter::WaitAny may follow. The wait
  // may end early or late by the transport's timer granularity (a
  // scheduler tick for a socket), so a caller checks its own clock after a
  // nullopt. timeout_us <= 0 returns nullopt at once. Never throws.
  virtual std::optional<AttemptOutcome> FinishWithin(int64_t timeout_us) = 0;
};

// Makes one call as copies on servers. The implementation owns the reply it
// keeps (the caller reads it after Run returns ok). Not thread-safe.
class ServerCall {
 public:
  virtual ~ServerCall() = default;
  // Sends the call to `server` and returns the copy in flight; it must not
  // refer to this ServerCall (it may outlive it while drained). `now_us` is
  // the session clock's reading as the copy starts (read once per copy by
  // the caller, for the transport's own time stamps). Never throws: a copy
  // that could not be sent is returned anyway and its Finish reports the
  // transport failure.
  virtual std::unique_ptr<Attempt> Start(const InstanceInfo& server, int64_t now_us) = 0;
  // Keeps the reply of `winner`, a copy this call started whose Finish
  // returned an ok status.
  virtual void Accept(Attempt& winner) = 0;
};

// The transport's half of waiting for several copies at once. Not
// thread-safe (one per session).
class AttemptWaiter {
 public:
  virtual ~AttemptWaiter() = default;
  // Blocks until one of `attempts` (unfinished) has an answer to read, so
  // its Finish will not wait for the server, or until the session's clock
  // reads `deadline_us`. Returns that attempt's index, or -1 when the
  // deadline came first. A deadline already passed checks without blocking.
  // With no attempts it just waits for the deadline (a busy retry's backoff).
  virtual int WaitAny(const std::vector<Attempt*>& attempts, int64_t deadline_us) = 0;
};

struct FailoverOptions {
  // A copy unanswered for this long has failed in the transport. Matches the
  // transport's own call timeout (the copies' Finish enforce that one).
  int64_t call_timeout_us = 5'000'000;
  HedgeOptions hedge;
};

// Applies the failover and hedging rules over a session's cache. Not
// thread-safe (one per session, like the session); `cache`, `clock` and
// `waiter` must outlive it.
// Aligned to a cache line so that the fields a common call reads (the first
// ones) take two lines, not four or five.
class alignas(64) Failover {
 public:
  // At most this many abandoned copies are kept draining; past it the
  // oldest is closed (and reported as a transport failure).
  static constexpr size_t kMaxDraining = 8;
  // Busy retries of one call, and the backoff before the first (doubling).
  static constexpr int kMaxBusyRetries = 3;
  static constexpr int64_t kBusyBackoffUs = 20'000;
  static constexpr int64_t kBusyRetryRoomUs = 250'000;

  Failover(discovery::ServerCache& cache, const Clock& clock, AttemptWaiter& waiter,
           FailoverOptions options = {});
  // Closes the copies still draining, reporting each as a transport failure.
  ~Failover();

  Failover(const Failover&) = delete;
  Failover& operator=(const Failover&) = delete;

  // Runs `call` against servers of `service` (a hedge and/or one retry after
  // a transport failure, two copies in flight at most; busy retries as
  // above). Returns the first answer's status (ok or the server's typed
  // error; kUnavailable only when the busy retries ran out or the deadline
  // left no room); the cache's error when no server can be picked
  // (kUnavailable, kInvalidArgument for a malformed service name, ...);
  // kUnavailable naming the last server when every copy failed in the
  // transport. `served_by`, when given, receives the id of the server that
  // answered ("" when none did).
  BEACON_HOT Status Run(const std::string& service, ServerCall& call,
                        std::string* served_by = nullptr);

  // Retries sent: after a transport failure, or after a busy (kUnavailable)
  // answer; busy_retries() counts the latter alone.
  int64_t retries() const { return retries_; }
  int64_t busy_retries() const { return busy_retries_; }
  // Second copies sent after the hedge delay, and those that answered first.
  int64_t hedges_sent() const { return hedges_sent_; }
  int64_t hedges_won() const { return hedges_won_; }
  // Abandoned copies not yet drained or closed (each holds a connection).
  size_t draining() const { return draining_.size(); }
  // The current hedge delay of `service` (0 with hedging off; the cold
  // delay for a service not called yet).
  int64_t hedge_delay_us(const std::string& service) const;
  const HedgeOptions& hedge_options() const { return options_.hedge; }

 private:
  static constexpr int kMaxCopies = 2;

  struct Copy {
    std::unique_ptr<Attempt> attempt;
    discovery::PickedServer server;  // reported to the cache exactly once
    int64_t start_us = 0;
    bool hedge = false;
  };
  struct Abandoned {
    std::string service;
    Copy copy;
  };

  // A copy started at `now_us` (the clock's reading, taken before the pick).
  BEACON_HOT Copy StartCopy(ServerCall& call, discovery::PickedServer server, bool hedge,
                            int64_t now_us);
  // A server for a new copy at `now_us`: not in failed_, not busy with an
  // abandoned copy of this session (unless that leaves none), not
  // `also_exclude` ("" for none). The common call (nothing failed, nothing
  // draining) goes straight to the cache with nothing to exclude; the rest
  // is PickExcluding, out of line and cold.
  BEACON_HOT Result<discovery::PickedServer> PickFor(const std::string& service,
                                                     const std::string& also_exclude,
                                                     bool allow_busy, int64_t now_us);
  [[gnu::noinline, gnu::cold]] Result<discovery::PickedServer> PickExcluding(
      const std::string& service, const std::string& also_exclude, bool allow_busy,
      int64_t now_us);
  // Run after the first wait, when the first copy did not answer (hedge,
  // retry, busy retry, timeouts): `read` is that wait's result, the rest
  // Run's state as the wait ended. Out of line and cold, so that the
  // common call's code stays small.
  [[gnu::noinline, gnu::cold]] Status Continue(const std::string& service,
                                               ServerCall& call, std::string* served_by,
                                               Copy& first_copy,
                                               std::optional<AttemptOutcome>& read,
                                               HedgeDelay* delay, bool hedge_pending,
                                               int64_t hedge_at, int64_t call_deadline);
  void Abandon(const std::string& service, Copy copy);
  // Reads the answers of abandoned copies that have one, and closes those
  // past the call timeout, reporting each to the cache. Never blocks.
  void CollectAbandoned();
  BEACON_HOT HedgeDelay& DelayFor(const std::string& service);

  // First, in this order, what a common call reads: two cache lines.
  discovery::ServerCache& cache_;
  const Clock& clock_;
  // DelayFor's last answer (a node of delays_: map nodes do not move), or
  // null: a session calls one service many times in a row, and a string
  // compare is a fraction of a map lookup.
  std::pair<const std::string, HedgeDelay>* last_delay_ = nullptr;
  HedgeBudget budget_;
  std::vector<Abandoned> draining_;  // oldest first
  std::vector<std::string> failed_;  // servers that failed this call
  const FailoverOptions options_;
  // The rest only past the common call.
  AttemptWaiter& waiter_;
  std::map<std::string, HedgeDelay> delays_;  // per service
  // Run's working lists, kept between calls so a call allocates none.
  std::vector<Copy> flying_;
  std::vector<Attempt*> waiting_;
  std::vector<std::string> exclude_;  // PickExcluding's list for the cache
  int64_t retries_ = 0;
  int64_t busy_retries_ = 0;
  int64_t hedges_sent_ = 0;
  int64_t hedges_won_ = 0;
};

}  // namespace beacon::client
