#include "core/endpoint.h"

#include <cctype>
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
                               bool allow_port_zero, std::string_view default_host) {
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
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
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

Result<std::vector<Endpoint>> ParseEndpointList(std::string_view field,
                                                std::string_view text) {
  const std::string f(field);
  if (text.empty()) return InvalidArgument(f + " must name at least one HOST:PORT");
  std::vector<Endpoint> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (item.empty()) {
      return InvalidArgument(f + " " + QuoteForMessage(text) +
                             " has an empty item (item " +
                             std::to_string(out.size() + 1) + ")");
    }
    auto ep = ParseEndpoint(field, item);
    if (!ep.ok()) return ep.status();
    for (const Endpoint& seen : out) {
      if (seen.host == ep->host && seen.port == ep->port) {
        return InvalidArgument(f + " lists " + ep->ToString() + " twice");
      }
    }
    out.push_back(*std::move(ep));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string JoinEndpoints(const std::vector<Endpoint>& endpoints) {
  std::string out;
  for (const Endpoint& ep : endpoints) {
    if (!out.empty()) out += ',';
    out += ep.ToString();
  }
  return out;
}

Endpoint AdvertiseAddress::Resolve(const std::string& listen_host, int bound_port) const {
  Endpoint ep{host, port.value_or(bound_port)};
  if (ep.host.empty()) {
    const bool wildcard = listen_host == "0.0.0.0" || listen_host == "::";
    ep.host = wildcard ? "127.0.0.1" : listen_host;
  }
  return ep;
}

Result<AdvertiseAddress> ParseAdvertiseAddress(std::string_view field,
                                               std::string_view text) {
  AdvertiseAddress out;
  if (text.empty()) return out;
  const std::string f(field);
  // A port follows the last ':' of "HOST:PORT" (one colon) or "[V6]:PORT".
  const size_t colon = text.find(':');
  const bool has_port = text.back() != ']' && colon != std::string_view::npos &&
                        (text.front() == '[' || colon == text.rfind(':'));
  if (text.substr(0, 2) == "[]") {
    return InvalidArgument(f + " " + QuoteForMessage(text) + " has an empty address");
  }
  if (has_port) {
    // ":PORT" keeps the listen host; ParseEndpoint validates the port.
    const bool port_only = text.front() == ':';
    auto ep = ParseEndpoint(field, text, /*allow_port_zero=*/false, "localhost");
    if (!ep.ok()) return ep.status();
    out.host = port_only ? "" : ep->host;
    out.port = ep->port;
    return out;
  }
  if (text.front() == '[') {
    if (text.back() != ']') {
      return InvalidArgument(f + " " + QuoteForMessage(text) +
                             " must look like [ADDR] or [ADDR]:PORT");
    }
    out.host = std::string(text.substr(1, text.size() - 2));
  } else if (colon != std::string_view::npos) {
    return InvalidArgument(f + " " + QuoteForMessage(text) +
                           ": write IPv6 addresses as [ADDR] or [ADDR]:PORT");
  } else {
    out.host = std::string(text);
  }
  if (Status s = ValidateHost(f + " host", out.host); !s.ok()) return s;
  return out;
}

std::string DefaultInstanceId(const Endpoint& advertised) {
  std::string id;
  for (char c : advertised.host) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    id += ok ? c : '_';
  }
  return id + "-" + std::to_string(advertised.port);
}

}  // namespace beacon
