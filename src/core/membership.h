// The registry's view of a service, shared by the registry core, the
// discovery cache and the balancers. Plain values; no Thrift.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace beacon {

// One registered server.
struct InstanceInfo {
  std::string id;
  std::string host;
  int port = 0;
  std::map<std::string, std::string> metadata;

  bool operator==(const InstanceInfo& o) const {
    return id == o.id && host == o.host && port == o.port && metadata == o.metadata;
  }
  bool operator!=(const InstanceInfo& o) const { return !(*this == o); }
};

// The live instances of one service at one membership version. Instances are
// sorted by id.
struct Membership {
  std::string service_name;
  int64_t version = 0;
  std::vector<InstanceInfo> instances;
};

}  // namespace beacon
