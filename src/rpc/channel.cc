#include "rpc/channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>

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

int Channel::socket_fd() const { return socket_->getSocketFD(); }

int WaitForReadable(const std::vector<int>& fds, int64_t timeout_us) {
  std::vector<pollfd> polled(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i] < 0) return static_cast<int>(i);
    polled[i] = pollfd{fds[i], POLLIN, 0};
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::microseconds(std::max<int64_t>(0, timeout_us));
  while (true) {
    const int64_t left_ns =
        std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 deadline - std::chrono::steady_clock::now())
                                 .count());
    const timespec wait{static_cast<time_t>(left_ns / 1000000000),
                        static_cast<long>(left_ns % 1000000000)};
    const int n = ::ppoll(polled.data(), polled.size(), &wait, nullptr);
    if (n > 0) {
      for (size_t i = 0; i < polled.size(); ++i) {
        if (polled[i].revents != 0) return static_cast<int>(i);
      }
    }
    if (n == 0) return -1;
    if (n < 0 && errno != EINTR) return 0;  // let the read report the error
  }
}

void Channel::Abort() {
  const int fd = socket_->getSocketFD();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace beacon::rpc
