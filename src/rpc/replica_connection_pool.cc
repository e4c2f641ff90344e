#include "rpc/replica_connection_pool.h"

#include <thrift/protocol/TMultiplexedProtocol.h>

namespace beacon::rpc {

using apache::thrift::protocol::TMultiplexedProtocol;

ReplicaConnection::ReplicaConnection(std::unique_ptr<Channel> channel)
    : channel_(std::move(channel)),
      prime_(std::make_unique<idl::PrimeClient>(
          std::make_shared<TMultiplexedProtocol>(channel_->protocol(), "prime"))),
      voting_(std::make_unique<idl::VotingClient>(
          std::make_shared<TMultiplexedProtocol>(channel_->protocol(), "voting"))) {}

ReplicaConnectionPool::ReplicaConnectionPool(PoolOptions options, const Clock& clock)
    : options_(options), clock_(clock) {}

bool ReplicaConnectionPool::SameAddress(const ReplicaConnection& conn,
                                        const InstanceInfo& instance) {
  const Endpoint& e = conn.endpoint();
  return e.port == instance.port && e.host == instance.host;
}

Result<std::unique_ptr<ReplicaConnection>> ReplicaConnectionPool::Acquire(
    const InstanceInfo& instance) {
  const int64_t now = clock_.NowMicros();
  std::vector<std::unique_ptr<ReplicaConnection>> stale;  // closed outside the lock
  {
    MutexLock lock(mu_);
    auto it = idle_.find(instance.id);
    if (it != idle_.end()) {
      auto& conns = it->second;
      while (!conns.empty()) {
        std::unique_ptr<ReplicaConnection> conn = std::move(conns.back());
        conns.pop_back();
        // An id that moved to another address is another process: its old
        // connections are closed, never reused.
        if (SameAddress(*conn, instance) &&
            now - conn->channel().last_used_us() <= options_.max_idle_ms * 1000) {
          return conn;
        }
        stale.push_back(std::move(conn));
      }
    }
  }
  auto ch = Channel::Open(Endpoint{instance.host, instance.port}, options_.client);
  if (!ch.ok()) return ch.status();
  {
    MutexLock lock(mu_);
    ++opened_;
  }
  return std::make_unique<ReplicaConnection>(std::move(ch).value());
}

void ReplicaConnectionPool::Release(const InstanceInfo& instance,
                                    std::unique_ptr<ReplicaConnection> conn) {
  if (!SameAddress(*conn, instance)) return;  // closed: not a connection to `instance`
  conn->channel().Touch(clock_.NowMicros());
  std::unique_ptr<ReplicaConnection> surplus;  // closed outside the lock
  MutexLock lock(mu_);
  auto& conns = idle_[instance.id];
  if (conns.size() < options_.max_idle_per_instance) {
    conns.push_back(std::move(conn));
  } else {
    surplus = std::move(conn);
  }
}

void ReplicaConnectionPool::Forget(const std::string& instance_id) {
  std::vector<std::unique_ptr<ReplicaConnection>> doomed;  // closed outside the lock
  MutexLock lock(mu_);
  auto it = idle_.find(instance_id);
  if (it == idle_.end()) return;
  doomed = std::move(it->second);
  idle_.erase(it);
}

int64_t ReplicaConnectionPool::connections_opened() const {
  MutexLock lock(mu_);
  return opened_;
}

}  // namespace beacon::rpc
