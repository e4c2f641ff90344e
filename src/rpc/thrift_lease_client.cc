#include "rpc/thrift_lease_client.h"

namespace beacon::rpc {

namespace {

Result<registration::LeaseClient::Grant> ToGrant(const Result<idl::Lease>& lease) {
  if (!lease.ok()) return lease.status();
  return registration::LeaseClient::Grant{lease->lease_id, lease->ttl_ms};
}

}  // namespace

Result<registration::LeaseClient::Grant> ThriftLeaseClient::Register(
    const std::string& service, const InstanceInfo& self, const std::string& lease_id) {
  return ToGrant(client_.Register(service, self, lease_id));
}

Result<registration::LeaseClient::Grant> ThriftLeaseClient::Heartbeat(
    const std::string& service, const std::string& instance_id,
    const std::string& lease_id) {
  return ToGrant(client_.Heartbeat(service, instance_id, lease_id));
}

Status ThriftLeaseClient::Deregister(const std::string& service,
                                     const std::string& instance_id,
                                     const std::string& lease_id) {
  return client_.Deregister(service, instance_id, lease_id);
}

}  // namespace beacon::rpc
