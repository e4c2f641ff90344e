#include "rpc/membership_conversion.h"

namespace beacon::rpc {

idl::Instance ToIdl(const InstanceInfo& in) {
  idl::Instance out;
  out.id = in.id;
  out.host = in.host;
  out.port = in.port;
  out.metadata = in.metadata;
  return out;
}

InstanceInfo FromIdl(const idl::Instance& in) {
  return InstanceInfo{in.id, in.host, in.port, in.metadata};
}

idl::Membership ToIdl(const Membership& in) {
  idl::Membership out;
  out.service_name = in.service_name;
  out.version = in.version;
  out.instances.reserve(in.instances.size());
  for (const auto& i : in.instances) out.instances.push_back(ToIdl(i));
  return out;
}

Membership FromIdl(const idl::Membership& in) {
  Membership out;
  out.service_name = in.service_name;
  out.version = in.version;
  out.instances.reserve(in.instances.size());
  for (const auto& i : in.instances) out.instances.push_back(FromIdl(i));
  return out;
}

}  // namespace beacon::rpc
