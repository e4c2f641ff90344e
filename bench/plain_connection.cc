#include "plain_connection.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "rpc/thrift_server.h"

namespace beacon::bench {

using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;

Result<std::unique_ptr<PlainConnection>> PlainConnection::Open(
    const Endpoint& endpoint, const rpc::ClientOptions& options) {
  std::unique_ptr<PlainConnection> c(new PlainConnection());
  auto config = rpc::MakeTransportConfig(options.max_message_bytes);
  c->socket_ = std::make_shared<TSocket>(endpoint.host, endpoint.port, config);
  c->socket_->setConnTimeout(options.connect_timeout_ms);
  c->socket_->setRecvTimeout(options.call_timeout_ms);
  c->socket_->setSendTimeout(options.call_timeout_ms);
  c->socket_->setNoDelay(true);
  c->transport_ = std::make_shared<TFramedTransport>(c->socket_, config);
  c->protocol_ =
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(c->transport_);
  try {
    c->transport_->open();
  } catch (const apache::thrift::transport::TTransportException& e) {
    return Unavailable("cannot connect to " + endpoint.ToString() + ": " + e.what());
  }
  return c;
}

PlainConnection::~PlainConnection() {
  try {
    if (transport_) transport_->close();
  } catch (...) {
    // A broken connection may throw on close; nothing is left to do with it.
  }
}

void PlainConnection::SetReceiveTimeout(int ms) { socket_->setRecvTimeout(ms); }

}  // namespace beacon::bench
