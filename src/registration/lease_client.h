// LeaseClient: what a replica's Registration needs from one registry
// (register, heartbeat, deregister). rpc/ThriftLeaseClient implements it over
// Thrift; tests use fakes.
#pragma once

#include <cstdint>
#include <string>

#include "core/membership.h"
#include "core/status.h"

namespace beacon::registration {

// Errors: kUnavailable when the registry cannot be reached or does not answer
// in time; kUnknownInstance / kPermissionDenied when the registry no longer
// holds the lease; the registry's own code otherwise.
// Safe for use from one thread at a time.
class LeaseClient {
 public:
  struct Grant {
    std::string lease_id;
    int64_t ttl_ms = 0;
  };
  virtual ~LeaseClient() = default;
  virtual Result<Grant> Register(const std::string& service, const InstanceInfo& self,
                                 const std::string& lease_id) = 0;
  virtual Result<Grant> Heartbeat(const std::string& service,
                                  const std::string& instance_id,
                                  const std::string& lease_id) = 0;
  virtual Status Deregister(const std::string& service, const std::string& instance_id,
                            const std::string& lease_id) = 0;
  // The registry's address, for log lines ("127.0.0.1:9090").
  virtual std::string Address() const = 0;
};

}  // namespace beacon::registration
