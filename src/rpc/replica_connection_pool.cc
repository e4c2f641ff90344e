#include "rpc/replica_connection_pool.h"

#include <thrift/protocol/TMultiplexedProtocol.h>

#include <algorithm>
#include <cstring>

namespace beacon::rpc {

using apache::thrift::protocol::TMultiplexedProtocol;

ReplicaConnection::ReplicaConnection(std::unique_ptr<Channel> channel)
    : channel_(std::move(channel)),
      prime_(std::make_unique<idl::PrimeClient>(
          std::make_shared<TMultiplexedProtocol>(channel_->protocol(), "prime"))),
      voting_(std::make_unique<idl::VotingClient>(
          std::make_shared<TMultiplexedProtocol>(channel_->protocol(), "voting"))) {}

ReplicaConnectionPool::Slot::~Slot() { delete first_.load(std::memory_order_acquire); }

ReplicaConnectionPool::ReplicaConnectionPool(PoolOptions options, const Clock& clock)
    : options_(options), clock_(clock) {}

bool ReplicaConnectionPool::SameAddress(const ReplicaConnection& conn,
                                        const InstanceInfo& instance) {
  const Endpoint& e = conn.endpoint();
  return e.port == instance.port && e.host == instance.host;
}

bool ReplicaConnectionPool::Fresh(ReplicaConnection& conn, int64_t now_us) const {
  return now_us - conn.channel().last_used_us() <= options_.max_idle_ms * 1000;
}

uint64_t ReplicaConnectionPool::IdTag(const std::string& id) {
  // One load for an id of 8 bytes or more; a short one byte by byte.
  uint64_t tail = 0;
  if (id.size() >= 8) {
    std::memcpy(&tail, id.data() + id.size() - 8, 8);
  } else {
    for (const char c : id) tail = tail << 8 | static_cast<unsigned char>(c);
  }
  return (tail << 8) ^ id.size();
}

ReplicaConnectionPool::Slot& ReplicaConnectionPool::Find(const std::string& instance_id) {
  const size_t indexed = index_size_.load(std::memory_order_acquire);
  const uint64_t tag = IdTag(instance_id);
  for (size_t i = 0; i < indexed; ++i) {
    if (index_[i].tag.load(std::memory_order_relaxed) != tag) continue;
    Slot* slot = index_[i].slot.load(std::memory_order_relaxed);
    if (slot->id() == instance_id) return *slot;
  }
  MutexLock lock(mu_);
  std::unique_ptr<Slot>& slot = slots_[instance_id];
  if (slot == nullptr) {
    slot = std::make_unique<Slot>(instance_id);
    const size_t n = index_size_.load(std::memory_order_relaxed);
    if (n < kIndexed) {
      index_[n].tag.store(IdTag(instance_id), std::memory_order_relaxed);
      index_[n].slot.store(slot.get(), std::memory_order_relaxed);
      index_size_.store(n + 1, std::memory_order_release);
    }
  }
  return *slot;
}

Result<std::unique_ptr<ReplicaConnection>> ReplicaConnectionPool::Acquire(
    Slot& slot, const InstanceInfo& instance, int64_t now) {
  // An id that moved to another address is another process, and a
  // connection idle too long may be closed by the server under a call:
  // neither is reused.
  std::unique_ptr<ReplicaConnection> first(
      slot.first_.exchange(nullptr, std::memory_order_acq_rel));
  if (first != nullptr && SameAddress(*first, instance) && Fresh(*first, now)) {
    first->channel().Touch(now);
    return first;
  }
  return AcquireSlow(slot, instance, now, std::move(first));
}

Result<std::unique_ptr<ReplicaConnection>> ReplicaConnectionPool::AcquireSlow(
    Slot& slot, const InstanceInfo& instance, int64_t now,
    std::unique_ptr<ReplicaConnection> first) {
  std::vector<std::unique_ptr<ReplicaConnection>> stale;  // closed outside the lock
  if (first != nullptr) stale.push_back(std::move(first));
  {
    MutexLock lock(slot.mu_);
    auto& conns = slot.more_;
    while (!conns.empty()) {
      std::unique_ptr<ReplicaConnection> conn = std::move(conns.back());
      conns.pop_back();
      if (SameAddress(*conn, instance) && Fresh(*conn, now)) {
        conn->channel().Touch(now);
        return conn;
      }
      stale.push_back(std::move(conn));
    }
  }
  auto ch = Channel::Open(Endpoint{instance.host, instance.port}, options_.client);
  if (!ch.ok()) return ch.status();
  opened_.fetch_add(1, std::memory_order_relaxed);
  auto conn = std::make_unique<ReplicaConnection>(std::move(ch).value());
  conn->channel().Touch(now);
  return conn;
}

void ReplicaConnectionPool::Release(Slot& slot, std::unique_ptr<ReplicaConnection> conn) {
  if (options_.max_idle_per_instance == 0) return;  // closed
  ReplicaConnection* empty = nullptr;
  if (slot.first_.compare_exchange_strong(empty, conn.get(), std::memory_order_acq_rel)) {
    conn.release();  // owned by the slot now
    return;
  }
  std::unique_ptr<ReplicaConnection> surplus;  // closed outside the lock
  MutexLock lock(slot.mu_);
  if (slot.more_.size() + 1 < options_.max_idle_per_instance) {
    slot.more_.push_back(std::move(conn));
  } else {
    surplus = std::move(conn);
  }
}

void ReplicaConnectionPool::Release(const InstanceInfo& instance,
                                    std::unique_ptr<ReplicaConnection> conn) {
  if (!SameAddress(*conn, instance)) return;  // closed: not a connection to `instance`
  Release(Find(instance.id), std::move(conn));
}

void ReplicaConnectionPool::Forget(Slot& slot) {
  std::unique_ptr<ReplicaConnection> first(
      slot.first_.exchange(nullptr, std::memory_order_acq_rel));
  std::vector<std::unique_ptr<ReplicaConnection>> doomed;  // closed outside the lock
  MutexLock lock(slot.mu_);
  doomed.swap(slot.more_);
}

void ReplicaConnectionPool::Forget(const std::string& instance_id) {
  Forget(Find(instance_id));
}

}  // namespace beacon::rpc
