// Helpers shared by the balancer tests.
#pragma once

#include <string>
#include <vector>

#include "core/membership.h"

namespace beacon::balance::testing {

// Instances named by `ids`, on distinct ports.
inline std::vector<InstanceInfo> Servers(const std::vector<std::string>& ids) {
  std::vector<InstanceInfo> out;
  int port = 7000;
  for (const std::string& id : ids)
    out.push_back(InstanceInfo{id, "127.0.0.1", port++, {}});
  return out;
}

}  // namespace beacon::balance::testing
