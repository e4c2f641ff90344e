// ThriftLeaseClient: Registration's view of the registry (register, heartbeat,
// deregister) over a ThriftRegistryClient.
#pragma once

#include <string>

#include "core/membership.h"
#include "core/status.h"
#include "registration/lease_client.h"
#include "rpc/thrift_registry_client.h"

namespace beacon::rpc {

// Forwards each call to `client` and turns the IDL lease into a Grant; errors
// pass through unchanged (kUnavailable when the registry cannot be reached,
// the registry's own code otherwise). Does not own `client`, which must
// outlive it. As thread-safe as the client (ThriftRegistryClient: safe for
// concurrent use).
class ThriftLeaseClient final : public registration::LeaseClient {
 public:
  explicit ThriftLeaseClient(ThriftRegistryClient& client) : client_(client) {}

  Result<Grant> Register(const std::string& service, const InstanceInfo& self,
                         const std::string& lease_id) override;
  Result<Grant> Heartbeat(const std::string& service, const std::string& instance_id,
                          const std::string& lease_id) override;
  Status Deregister(const std::string& service, const std::string& instance_id,
                    const std::string& lease_id) override;
  std::string Address() const override { return client_.Address(); }

 private:
  ThriftRegistryClient& client_;
};

}  // namespace beacon::rpc
