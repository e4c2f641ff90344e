#include "rpc/channel.h"

#include <sys/socket.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "rpc/framed_transport.h"
#include "rpc/thrift_server.h"

namespace beacon::rpc {

using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;

Result<std::unique_ptr<Channel>> Channel::Open(const Endpoint& endpoint,
                                               const ClientOptions& options) {
  std::unique_ptr<Channel> ch(new Channel());
  ch->endpoint_ = endpoint;
  auto config = MakeTransportConfig(options.max_message_bytes);
  ch->socket_ = std::make_shared<TSocket>(endpoint.host, endpoint.port, config);
  ch->socket_->setConnTimeout(options.connect_timeout_ms);
  ch->socket_->setRecvTimeout(options.call_timeout_ms);
  ch->socket_->setSendTimeout(options.call_timeout_ms);
  ch->socket_->setNoDelay(true);
  ch->transport_ = std::make_shared<MessageFramedTransport>(ch->socket_, config);
  ch->protocol_ =
      std::make_shared<apache::thrift::protocol::TBinaryProtocol>(ch->transport_);
  try {
    ch->transport_->open();
  } catch (const apache::thrift::transport::TTransportException& e) {
    return Unavailable("cannot connect to " + endpoint.ToString() + ": " + e.what());
  }
  return ch;
}

Channel::~Channel() {
  try {
    if (transport_) transport_->close();
  } catch (...) {
    // Closing a broken connection may throw; nothing is left to do with it.
  }
}

void Channel::SetCallTimeout(int ms) {
  socket_->setRecvTimeout(ms);
  socket_->setSendTimeout(ms);
}

void Channel::Abort() {
  const int fd = socket_->getSocketFD();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace beacon::rpc
