// HOST:PORT parsing shared by every program's command line.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace beacon {

struct Endpoint {
  std::string host;
  int port = 0;
  std::string ToString() const;  // "host:port", "[::1]:port" for IPv6
};

// Parses "host:port", "[v6addr]:port" or ":port" (host = default_host).
// allow_port_zero permits port 0 ("pick a free port") for listen addresses.
Result<Endpoint> ParseEndpoint(std::string_view field, std::string_view text,
                               bool allow_port_zero = false,
                               std::string_view default_host = "0.0.0.0");

}  // namespace beacon
