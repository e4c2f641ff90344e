// ThriftServer: how every Beacon server listens. One TThreadedServer
// (measured on this 2-core machine: about twice the small-call throughput of
// TNonblockingServer with a 2-thread pool, and a long-poll watch only ties up
// its own connection's thread), framed transport, binary protocol, bounded
// frames, idle-connection timeouts and a connection limit.
#pragma once

#include <memory>
#include <string>
#include <future>
#include <thread>

#include <thrift/TProcessor.h>

#include "core/status.h"

namespace apache::thrift::server { class TThreadedServer; }

namespace beacon::rpc {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;                       // 0: pick a free port; port() tells which
  int idle_timeout_ms = 30000;        // a connection silent this long is closed
  int send_timeout_ms = 10000;        // a peer that does not read its reply
  int64_t max_connections = 1024;     // further connections wait in the backlog
  int max_message_bytes = 1 << 20;    // larger frames are refused before allocation
};

// Owns the listening socket and the serving thread.
// Not thread-safe except port() and Stop(), which may be called from any thread.
class ThriftServer {
 public:
  // Binds and listens before returning (so port() is real and a client may
  // connect at once), then serves on a background thread. kUnavailable when
  // the address cannot be bound (message names it and the reason).
  static Result<std::unique_ptr<ThriftServer>> Start(
      const ServerOptions& options,
      std::shared_ptr<apache::thrift::TProcessorFactory> processors);

  ~ThriftServer();  // Stop(5000)

  int port() const { return port_; }

  // Stops accepting, closes idle connections, lets in-flight calls finish and
  // waits for them up to drain_timeout_ms. Returns true when everything
  // finished in time. Idempotent.
  bool Stop(int drain_timeout_ms);

 private:
  ThriftServer() = default;
  std::shared_ptr<apache::thrift::server::TThreadedServer> server_;
  std::thread thread_;
  std::future<void> finished_;  // ready when serve() has returned
  int port_ = 0;
  bool stopped_ = false;
};

// Frames larger than max_message_bytes are refused (TFramedTransport checks
// the 4-byte length before allocating).
std::shared_ptr<apache::thrift::TConfiguration> MakeTransportConfig(int max_message_bytes);

}  // namespace beacon::rpc
