// ReplicaConnectionPool: a session's open connections to replicas, reused
// call after call instead of connecting per call. One replica port carries
// both services (multiplexed "prime" and "voting"), so one connection holds
// a client for each.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "Prime.h"
#include "Voting.h"
#include "core/clock.h"
#include "core/hot.h"
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
//
// The fast path, for a session's call after call: each instance id has a
// Slot (found without a lock or a map lookup: a short scan of the slots
// made so far), whose most recently released idle connection is taken and
// given back with one atomic exchange each. More idle connections (a hedged
// copy and the call it hedged both give theirs back) wait in the slot's
// list under its own mutex.
class ReplicaConnectionPool {
 public:
  // One instance id's idle connections. Owned by the pool; valid as long as
  // the pool lives (slots are never removed).
  class Slot {
   public:
    explicit Slot(std::string id) : id_(std::move(id)) {}
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    const std::string& id() const { return id_; }

   private:
    friend class ReplicaConnectionPool;
    const std::string id_;
    // The first idle connection (owned; null when none), exchanged atomically.
    std::atomic<ReplicaConnection*> first_{nullptr};
    Mutex mu_;
    // Idle connections beyond first_, most recently used last.
    std::vector<std::unique_ptr<ReplicaConnection>> more_ GUARDED_BY(mu_);
  };

  ReplicaConnectionPool(PoolOptions options, const Clock& clock);

  // The slot of `instance_id`, made on first use. Never fails.
  BEACON_HOT Slot& Find(const std::string& instance_id);

  // An idle connection to `instance` (its slot: Find(instance.id)), or a new
  // one, for a call starting at `now_us` on the pool's clock (the caller's
  // reading, so a call reads the clock once): a connection idle for more
  // than max_idle_ms since the start of its last call is closed, not reused.
  // kUnavailable (a transport failure: the server is unreachable) when it
  // cannot connect.
  BEACON_HOT Result<std::unique_ptr<ReplicaConnection>> Acquire(
      Slot& slot, const InstanceInfo& instance, int64_t now_us);
  Result<std::unique_ptr<ReplicaConnection>> Acquire(Slot& slot,
                                                     const InstanceInfo& instance) {
    return Acquire(slot, instance, clock_.NowMicros());
  }
  Result<std::unique_ptr<ReplicaConnection>> Acquire(const InstanceInfo& instance) {
    return Acquire(Find(instance.id), instance);
  }

  // Returns a connection whose last call completed (ok or a typed error),
  // acquired from `slot`. Connections whose call failed in the transport
  // must be dropped instead. Past max_idle_per_instance it is closed. Reads
  // no clock: idle time counts from the start of the connection's last call
  // (stamped by Acquire), which is never later than its end, so a
  // connection is retired early rather than late.
  BEACON_HOT void Release(Slot& slot, std::unique_ptr<ReplicaConnection> conn);
  // As above for a connection acquired for `instance`; one that is not a
  // connection to `instance`'s address is closed.
  void Release(const InstanceInfo& instance, std::unique_ptr<ReplicaConnection> conn);

  // Closes every idle connection of the slot / of `instance_id` (e.g. after
  // a failure).
  void Forget(Slot& slot);
  void Forget(const std::string& instance_id);

  // Number of connections opened so far (for tests and `servers`).
  int64_t connections_opened() const { return opened_.load(std::memory_order_relaxed); }

 private:
  // Slots found by Find's scan without the lock; later ones only under it.
  static constexpr size_t kIndexed = 64;

  // Acquire past the slot's first connection (`first`, when it was stale):
  // the other idle ones, then a new connection. Out of line and cold.
  [[gnu::noinline, gnu::cold]] Result<std::unique_ptr<ReplicaConnection>> AcquireSlow(
      Slot& slot, const InstanceInfo& instance, int64_t now,
      std::unique_ptr<ReplicaConnection> first);
  static bool SameAddress(const ReplicaConnection& conn, const InstanceInfo& instance);
  bool Fresh(ReplicaConnection& conn, int64_t now_us) const;

  const PoolOptions options_;
  const Clock& clock_;
  std::atomic<int64_t> opened_{0};
  mutable Mutex mu_;
  std::map<std::string, std::unique_ptr<Slot>> slots_ GUARDED_BY(mu_);
  // An index entry: a slot and its id's tag (IdTag), so that Find's scan
  // reads the index's lines and only the slot it finds, not every slot
  // before it.
  struct IndexEntry {
    std::atomic<uint64_t> tag{0};
    std::atomic<Slot*> slot{nullptr};
  };
  // A cheap summary of an id (its length and last bytes: ids of one service
  // mostly differ at the end, e.g. a port). Equal ids have equal tags; equal
  // tags are checked against the id itself.
  static uint64_t IdTag(const std::string& id);

  // The first kIndexed slots in the order they were made: written under
  // mu_, entries below index_size_ never change.
  std::atomic<size_t> index_size_{0};
  std::array<IndexEntry, kIndexed> index_{};
};

}  // namespace beacon::rpc
