// ThriftServer: how every Beacon server listens. One TThreadedServer
// (measured on this 2-core machine: about twice the small-call throughput of
// TNonblockingServer with a 2-thread pool, and a long-poll watch only ties up
// its own connection's thread), framed transport, binary protocol, bounded
// frames, idle-connection timeouts and a connection limit.
#pragma once

#include <thrift/TProcessor.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "core/mutex.h"
#include "core/status.h"

namespace apache::thrift::server {
class TThreadedServer;
}

namespace beacon::rpc {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;                     // 0: pick a free port; port() tells which
  int idle_timeout_ms = 30000;      // a connection silent this long is closed
  int send_timeout_ms = 10000;      // a peer that does not read its reply
  int64_t max_connections = 1024;   // further connections wait in the backlog
  int max_message_bytes = 1 << 20;  // larger frames are refused before allocation
  // Stack size of the connection threads; 0 keeps the system's (8 MiB).
  // Thrift creates its threads through std::thread, so this sets the
  // process-wide default for threads created later (pthread_setattr_default_np).
  size_t thread_stack_bytes = 0;
};

// Owns the listening socket and the serving thread.
// port() and Stop() are safe for concurrent use from any thread.
class ThriftServer {
 public:
  // Binds and listens before returning (so port() is real and a client may
  // connect at once), then serves on a background thread. kUnavailable when
  // the address cannot be bound (message names it and the reason), or when
  // the server is not listening within 10 s (it is stopped before returning);
  // kInvalidArgument when thread_stack_bytes is refused by the system.
  static Result<std::unique_ptr<ThriftServer>> Start(
      const ServerOptions& options,
      std::shared_ptr<apache::thrift::TProcessorFactory> processors);

  // Stop(5000). Calls still running after that keep the serving thread (which
  // shares ownership of the processors) alive, detached, until they end.
  ~ThriftServer();

  int port() const { return port_; }

  // Stops accepting, closes idle connections, lets in-flight calls finish and
  // waits for them up to drain_timeout_ms. Returns true when everything
  // finished in time, false otherwise (a later call may wait again). Safe to
  // call more than once and from several threads at once: the first call
  // stops the server, every call waits up to its own deadline.
  bool Stop(int drain_timeout_ms);

 private:
  ThriftServer() = default;
  // Asks serve() to return (idempotent) and, if it has returned within
  // wait_ms, joins the serving thread. True when serve() has returned.
  bool StopAndJoin(int wait_ms);

  std::shared_ptr<apache::thrift::server::TThreadedServer> server_;
  std::shared_future<void> finished_;  // ready when serve() has returned; set at Start
  int port_ = 0;                       // set at Start

  Mutex mu_;
  bool stop_requested_ GUARDED_BY(mu_) = false;
  std::thread thread_ GUARDED_BY(mu_);  // (joined or detached once)
};

// Frames larger than max_message_bytes are refused (TFramedTransport checks
// the 4-byte length before allocating).
std::shared_ptr<apache::thrift::TConfiguration> MakeTransportConfig(
    int max_message_bytes);

}  // namespace beacon::rpc
