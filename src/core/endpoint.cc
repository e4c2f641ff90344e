#include "core/endpoint.h"

#include <charconv>

#include "core/validation.h"

namespace beacon {

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Result<Endpoint> ParseEndpoint(std::string_view field, std::string_view text,
                               bool allow_port_zero,
                               std::string_view default_host) {
  const std::string f(field);
  Endpoint ep;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return InvalidArgument(f + " " + QuoteForMessage(text) +
                             " must look like [ADDR]:PORT");
    }
    ep.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument(f + " " + QuoteForMessage(text) +
                             " must look like HOST:PORT");
    }
    ep.host = std::string(text.substr(0, colon));
    if (ep.host.find(':') != std::string::npos) {
      return InvalidArgument(f + " " + QuoteForMessage(text) +
                             ": write IPv6 addresses as [ADDR]:PORT");
    }
    port_text = text.substr(colon + 1);
  }
  if (ep.host.empty()) ep.host = std::string(default_host);
  if (Status s = ValidateHost(f + " host", ep.host); !s.ok()) return s;
  long long port = -1;
  const auto [ptr, ec] = std::from_chars(port_text.data(),
                                         port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port_text.empty()) {
    return InvalidArgument(f + " port " + QuoteForMessage(port_text) +
                           " is not a number");
  }
  if (!(allow_port_zero && port == 0)) {
    if (Status s = ValidatePort(f + " port", port); !s.ok()) return s;
  }
  ep.port = static_cast<int>(port);
  return ep;
}

}  // namespace beacon
