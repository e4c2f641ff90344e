// ThriftRegistryClient: the registry over Thrift, for replicas (register,
// heartbeat, deregister) and for the client's discovery cache (lookup, watch).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "Registry.h"
#include "core/endpoint.h"
#include "core/mutex.h"
#include "discovery/registry_client.h"
#include "rpc/channel.h"

namespace beacon::rpc {

// Safe for concurrent use. Short calls share one connection (serialized,
// reconnected when broken); each Watch in progress has a connection of its
// own so watches on several services do not wait for each other.
// Every method is idempotent on the registry, so a call that fails on a
// reused connection is retried once on a fresh one (the registry may have
// closed an idle connection); kUnavailable when the registry cannot be reached.
// A call is never retried after a timeout (the registry is slow or hung, and
// a retry would double the wait), and a call that waited for the shared
// connection while another call found the registry unreachable fails at once
// rather than wait a timeout of its own: one hung registry costs a caller at
// most one call timeout (plus the connect timeout) before it can move on.
class ThriftRegistryClient final : public discovery::RegistryClient {
 public:
  ThriftRegistryClient(Endpoint registry, ClientOptions options, std::string token = "");
  ~ThriftRegistryClient() override;

  Result<Membership> Lookup(const std::string& service) override;
  Result<Membership> Watch(const std::string& service, int64_t known_version,
                           int max_wait_ms) override;
  void CancelWatches() override;
  std::string Address() const override { return registry_.ToString(); }

  Result<idl::Lease> Register(const std::string& service, const InstanceInfo& instance,
                              const std::string& lease_id);
  Result<idl::Lease> Heartbeat(const std::string& service, const std::string& instance_id,
                               const std::string& lease_id);
  Status Deregister(const std::string& service, const std::string& instance_id,
                    const std::string& lease_id);
  Result<std::vector<idl::ServiceSummary>> ListServices();
  // The registry's counters; kInternal from a registry older than stats()
  // (it answers UNKNOWN_METHOD).
  Result<idl::RegistryStats> Stats();
  Status Ping();

 private:
  // Runs call(client) on the shared connection, reconnecting as described.
  template <class T, class F>
  Result<T> CallShared(F&& call);

  const Endpoint registry_;
  const ClientOptions options_;
  const std::string token_;

  Mutex mu_;  // serializes short calls
  std::unique_ptr<Channel> channel_ GUARDED_BY(mu_);
  std::unique_ptr<idl::RegistryClient> client_ GUARDED_BY(mu_);
  // How many short calls found the registry unreachable; read before waiting
  // for mu_, so a waiter sees whether the holder failed meanwhile.
  std::atomic<uint64_t> failures_{0};

  Mutex watch_mu_;
  std::set<Channel*> active_watches_ GUARDED_BY(watch_mu_);
};

}  // namespace beacon::rpc
