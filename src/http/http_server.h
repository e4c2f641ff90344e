// HttpServer: a small, bounded, read-only HTTP/1.1 server (Boost.Beast) for
// the dashboard, JSON views and /metrics. Beast parses HTTP; this class only
// bounds it and hands each request to one handler function.
//
// Bounds: at most max_connections open connections (more are accepted and
// closed at once); a request's header (request line included) at most
// max_header_bytes (else 431 and close) and its body at most max_body_bytes
// (else 413 and close); the whole of each request must arrive within
// request_timeout_ms and each response be written within write_timeout_ms,
// else the connection is closed (so a slow or silent client holds one
// connection slot for a bounded time and little memory); a connection
// serves at most max_requests_per_connection requests.
//
// Threads: one I/O thread runs every connection; handlers run on a separate
// pool of handler_threads, so a blocking handler (a long poll) never stalls
// I/O. The Thrift side shares nothing with it.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/http_message.h"

namespace beacon::http {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port
  int handler_threads = 4;
  size_t max_connections = 64;
  size_t max_header_bytes = 8192;
  size_t max_body_bytes = 1024;
  int request_timeout_ms = 5000;
  int write_timeout_ms = 5000;
  int max_requests_per_connection = 1000;

  // kInvalidArgument naming the first option out of range.
  Status Validate() const;
};

// Called on a handler thread for every well-formed request; may block for a
// bounded time. An exception it throws becomes a 500.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Start/Stop from one thread; port() and open_connections() from any.
class HttpServer {
 public:
  // Binds and starts serving. kInvalidArgument for bad options; kUnavailable
  // naming the address when it cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  // Stop().
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  size_t open_connections() const;

  // Closes the listener and every connection, waits for running handlers
  // (make blocking handlers return first) and joins every thread. Idempotent.
  void Stop();

  struct Impl;  // opaque: defined and used only in http_server.cc

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace beacon::http
