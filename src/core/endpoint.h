// HOST:PORT parsing shared by every program's command line, and how a server
// names the address it advertises.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Parses a comma-separated list of HOST:PORT (as ParseEndpoint, port 0 not
// allowed), e.g. "10.0.0.1:9090,10.0.0.2:9090", keeping its order.
// kInvalidArgument naming `field` for an empty list, an empty item ("a:1,,b:2",
// a trailing comma), an item ParseEndpoint refuses, or the same address twice.
Result<std::vector<Endpoint>> ParseEndpointList(std::string_view field,
                                                std::string_view text);

// The inverse: "a:1,b:2".
std::string JoinEndpoints(const std::vector<Endpoint>& endpoints);

// The address a server tells the registry (--advertise HOST[:PORT]). Either
// part may be left out and is then filled from where the server really
// listens; see Resolve.
struct AdvertiseAddress {
  std::string host;         // empty: the listen host (127.0.0.1 for 0.0.0.0 or ::)
  std::optional<int> port;  // absent: the port actually bound

  // The endpoint to advertise for a server listening on listen_host and
  // bound to bound_port.
  Endpoint Resolve(const std::string& listen_host, int bound_port) const;
};

// Parses "" (advertise the listen address), "HOST", "HOST:PORT", ":PORT",
// "[V6]" or "[V6]:PORT". kInvalidArgument naming `field` for a bad host or port (an
// explicit port must be 1..65535), or for a bare IPv6 address (write [ADDR]).
Result<AdvertiseAddress> ParseAdvertiseAddress(std::string_view field,
                                               std::string_view text);

// The instance id used when none is given: "HOST-PORT" with every byte that
// is not a letter, digit, '.', '-' or '_' replaced by '_' ("127.0.0.1-9101",
// "__1-9101" for ::1): readable, and made only of bytes ValidateName accepts.
std::string DefaultInstanceId(const Endpoint& advertised);

}  // namespace beacon
