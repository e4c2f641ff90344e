// The read-only HTTP side's request and response, as plain values: what a
// route sees and returns, free of the server library, so routes are tested
// without a network.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace beacon::http {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string path;    // percent-decoded path without the query, e.g. "/v1/services"
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps the last
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Splits a request target ("/a%20b?x=1&y") into a decoded path and query.
// kInvalidArgument when the target does not start with '/', or holds a bad
// percent escape or a NUL byte.
Result<HttpRequest> ParseTarget(const std::string& method, const std::string& target);

// A plain-text response with `status` and `message` + "\n".
HttpResponse TextResponse(int status, const std::string& message);

}  // namespace beacon::http
