// Conversions between the core's InstanceInfo/Membership and the IDL structs.
#pragma once

#include "core/membership.h"
#include "registry_types.h"

namespace beacon::rpc {

idl::Instance ToIdl(const InstanceInfo& in);
InstanceInfo FromIdl(const idl::Instance& in);
idl::Membership ToIdl(const Membership& in);
Membership FromIdl(const idl::Membership& in);

}  // namespace beacon::rpc
