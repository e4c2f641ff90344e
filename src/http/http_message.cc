#include "http/http_message.h"

namespace beacon::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes (and '+' as a space in a query). kInvalidArgument on a
// bad escape or a decoded NUL.
Result<std::string> Decode(const std::string& in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return InvalidArgument("request target has a truncated percent escape");
      }
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0)
        return InvalidArgument("request target has a bad percent escape");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return InvalidArgument("request target holds a NUL byte");
    out += c;
  }
  return out;
}

}  // namespace

Result<HttpRequest> ParseTarget(const std::string& method, const std::string& target) {
  if (target.empty() || target[0] != '/') {
    return InvalidArgument("request target must start with '/'");
  }
  HttpRequest request;
  request.method = method;
  const size_t question = target.find('?');
  auto path = Decode(target.substr(0, question), /*plus_is_space=*/false);
  if (!path.ok()) return path.status();
  request.path = std::move(path).value();
  if (question == std::string::npos) return request;
  const std::string query = target.substr(question + 1);
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      auto key = Decode(pair.substr(0, eq), true);
      if (!key.ok()) return key.status();
      auto value = Decode(eq == std::string::npos ? "" : pair.substr(eq + 1), true);
      if (!value.ok()) return value.status();
      request.query[std::move(key).value()] = std::move(value).value();
    }
    start = end + 1;
  }
  return request;
}

HttpResponse TextResponse(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = message + "\n";
  return r;
}

}  // namespace beacon::http
