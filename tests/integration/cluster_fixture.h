// A registry and replicas as real processes on loopback ports, for
// integration and fault tests. Everything started is SIGKILLed and reaped on
// destruction, so a failing test leaves nothing behind.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "client/session.h"
#include "registry_fixture.h"
#include "rpc/replica_connection_pool.h"
#include "rpc/thrift_registry_client.h"
#include "support/process.h"

namespace beacon::testing {

class ReplicaProcess {
 public:
  // Starts replica_svc --listen 127.0.0.1:<port> --registry 127.0.0.1:<registry_port>
  // --db <db>. Waits for its port file (not for registration).
  ReplicaProcess(const TempDir& dir, const std::string& name, int registry_port,
                 const std::string& db, const std::vector<std::string>& extra_flags = {},
                 int port = 0);
  // The same with --registry `registries` ("127.0.0.1:P1,127.0.0.1:P2").
  ReplicaProcess(const TempDir& dir, const std::string& name,
                 const std::string& registries, const std::string& db,
                 const std::vector<std::string>& extra_flags = {}, int port = 0);
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  // The default instance id replica_svc derives: "127.0.0.1-PORT".
  std::string id() const { return "127.0.0.1-" + std::to_string(port_); }
  ChildProcess& process() { return *process_; }
  // A direct connection to this replica (no registry, no balancing).
  std::unique_ptr<rpc::ReplicaConnection> Connect() const;

 private:
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// A registry plus `replicas` replicas sharing one database in `dir`.
class Cluster {
 public:
  explicit Cluster(int replicas, const std::vector<std::string>& registry_flags = {},
                   const std::vector<std::string>& replica_flags = {});
  TempDir& dir() { return dir_; }
  RegistryProcess& registry() { return *registry_; }
  std::vector<std::unique_ptr<ReplicaProcess>>& replicas() { return replicas_; }
  std::string db() const { return dir_.File("votes.db"); }
  std::unique_ptr<rpc::ThriftRegistryClient> RegistryClient() const;
  // Starts one more replica on the shared database.
  ReplicaProcess& AddReplica(const std::vector<std::string>& extra_flags = {},
                             int port = 0);
  // Polls lookup(service) until exactly `n` instances are listed.
  bool WaitForInstances(const std::string& service, size_t n,
                        int timeout_ms = 10000) const;

 private:
  TempDir dir_;
  std::unique_ptr<RegistryProcess> registry_;
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;
  std::vector<std::string> replica_flags_;
};

// A client session on `cluster`'s registry with the given balancing policy
// a 3 s call timeout and hedging off; null (and a test failure) if it cannot
// be created.
std::unique_ptr<client::Session> NewSession(Cluster& cluster,
                                            const std::string& balancer);

}  // namespace beacon::testing
