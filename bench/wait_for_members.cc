#include <chrono>
#include <thread>

#include "rpc/thrift_registry_client.h"
#include "scenario_support.h"
#include "scenarios.h"

namespace beacon::bench {

Status WaitForMembers(const Endpoint& registry, const std::string& service, int count,
                      int timeout_ms) {
  rpc::ThriftRegistryClient client(registry, BenchClientOptions());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string seen = "no answer";
  while (true) {
    auto m = client.Lookup(service);
    if (m.ok()) {
      if (static_cast<int>(m->instances.size()) == count) return Status::Ok();
      seen = std::to_string(m->instances.size()) + " instance(s)";
    } else {
      seen = m.status().ToString();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Unavailable("registry " + registry.ToString() + " did not list " +
                         std::to_string(count) + " instance(s) of '" + service +
                         "' within " + std::to_string(timeout_ms) + " ms (last: " + seen +
                         ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace beacon::bench
