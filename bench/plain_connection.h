// PlainConnection: the simplest Thrift client connection (socket, framed
// transport, binary protocol) with exactly the options Beacon's rpc::Channel
// sets (TCP_NODELAY, connect and call timeouts, frame limit) and nothing
// more: no registry, no pool, no balancer. The benchmarks' baseline client
// and their raw registry client are built on it.
#pragma once

#include <thrift/protocol/TProtocol.h>

#include <memory>

#include "core/endpoint.h"
#include "core/status.h"
#include "rpc/channel.h"

namespace apache::thrift::transport {
class TSocket;
class TTransport;
}  // namespace apache::thrift::transport

namespace beacon::bench {

// Not thread-safe: one call at a time.
class PlainConnection {
 public:
  // Connects within options.connect_timeout_ms; kUnavailable naming the
  // address otherwise.
  static Result<std::unique_ptr<PlainConnection>> Open(const Endpoint& endpoint,
                                                       const rpc::ClientOptions& options);
  ~PlainConnection();

  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol() { return protocol_; }
  // A long poll needs a longer receive timeout than a call.
  void SetReceiveTimeout(int ms);

 private:
  PlainConnection() = default;
  std::shared_ptr<apache::thrift::transport::TSocket> socket_;
  std::shared_ptr<apache::thrift::transport::TTransport> transport_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol_;
};

}  // namespace beacon::bench
