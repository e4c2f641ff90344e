#include "cluster_fixture.h"

#include <unistd.h>

#include "rpc/thrift_logging.h"

namespace beacon::testing {

ReplicaProcess::ReplicaProcess(const TempDir& dir, const std::string& name,
                               int registry_port, const std::string& db,
                               const std::vector<std::string>& extra_flags, int port)
    : ReplicaProcess(dir, name, "127.0.0.1:" + std::to_string(registry_port), db,
                     extra_flags, port) {}

ReplicaProcess::ReplicaProcess(const TempDir& dir, const std::string& name,
                               const std::string& registries, const std::string& db,
                               const std::vector<std::string>& extra_flags, int port) {
  const std::string port_file = dir.File(name + ".port");
  ::unlink(port_file.c_str());
  std::vector<std::string> args = {"--listen",    "127.0.0.1:" + std::to_string(port),
                                   "--registry",  registries,
                                   "--db",        db,
                                   "--port-file", port_file,
                                   "--log-level", "debug"};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  process_ = ChildProcess::Start(BEACON_REPLICA_SVC, args, dir.File(name + ".log"));
  if (!process_) {
    ADD_FAILURE() << "cannot start replica_svc";
    return;
  }
  port_ = ReadPortFile(port_file, 10000);
  if (port_ == 0) ADD_FAILURE() << name << " did not come up:\n" << process_->Log();
}

std::unique_ptr<rpc::ReplicaConnection> ReplicaProcess::Connect() const {
  auto ch = rpc::Channel::Open(Endpoint{"127.0.0.1", port_}, rpc::ClientOptions{});
  if (!ch.ok()) return nullptr;
  return std::make_unique<rpc::ReplicaConnection>(std::move(ch).value());
}

Cluster::Cluster(int replicas, const std::vector<std::string>& registry_flags,
                 const std::vector<std::string>& replica_flags)
    : replica_flags_(replica_flags) {
  registry_ = std::make_unique<RegistryProcess>(dir_, registry_flags);
  if (!registry_->ok()) return;
  for (int i = 0; i < replicas; ++i) AddReplica();
}

ReplicaProcess& Cluster::AddReplica(const std::vector<std::string>& extra_flags,
                                    int port) {
  std::vector<std::string> flags = replica_flags_;
  flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
  replicas_.push_back(std::make_unique<ReplicaProcess>(
      dir_, "replica" + std::to_string(replicas_.size() + 1), registry_->port(), db(),
      flags, port));
  return *replicas_.back();
}

std::unique_ptr<rpc::ThriftRegistryClient> Cluster::RegistryClient() const {
  return std::make_unique<rpc::ThriftRegistryClient>(
      Endpoint{"127.0.0.1", registry_->port()}, rpc::ClientOptions{});
}

bool Cluster::WaitForInstances(const std::string& service, size_t n,
                               int timeout_ms) const {
  auto client = RegistryClient();
  return WaitUntil(
      [&] {
        auto m = client->Lookup(service);
        return m.ok() && m->instances.size() == n;
      },
      timeout_ms, 20);
}

std::unique_ptr<client::Session> NewSession(Cluster& cluster,
                                            const std::string& balancer) {
  // Expected connect failures are not test output.
  static const bool routed = (rpc::RouteThriftOutputToDebugLog(), true);
  (void)routed;
  client::SessionOptions options;
  options.registries = {Endpoint{"127.0.0.1", cluster.registry().port()}};
  options.balancer = balancer;
  options.timeout_ms = 3000;
  // Hedging off: these tests count which server each call reaches, and on a
  // loaded machine a copy slower than the hedge delay would send a hedge
  // elsewhere (tests of hedging set their own options).
  options.hedge.mode = client::HedgeMode::kOff;
  auto created = client::Session::Create(options);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  return created.ok() ? std::move(created).value() : nullptr;
}

}  // namespace beacon::testing
