#include "rpc/channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "core/hot.h"
#include "rpc/framed_transport.h"
#include "rpc/thrift_server.h"

namespace beacon::rpc {

using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;
using apache::thrift::transport::TTransportException;

// The kernel's timer tick (the resolution of CLOCK_MONOTONIC_COARSE), which
// socket timeouts are counted in; 10 ms (the coarsest) if unknown.
int64_t SchedulerTickUs() {
  static const int64_t tick_us = [] {
    timespec res{};
    if (::clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0) return int64_t{10000};
    return std::clamp<int64_t>(res.tv_sec * 1000000 + res.tv_nsec / 1000, 1, 10000);
  }();
  return tick_us;
}

// TSocket whose first read of a reply can be bounded below the call timeout
// by the socket's receive timeout: the wait is the read itself, with no
// poll before it. A read that gets EAGAIN ("timed out") has consumed
// nothing, so a bounded first read that expires leaves the connection as it
// was. Reads after the first, while the short timeout is still set, fall
// back to the call timeout rather than fail early. Not thread-safe.
// It also reads ahead: a read shorter than kReadAhead (the framed
// transport's 4-byte frame header) asks the kernel for up to kReadAhead
// bytes, and the reads after it (the frame's body) take them from that
// buffer. A reply that arrived whole (the usual case: the server writes a
// frame with one send) is then read with one recv instead of Thrift's two,
// a system call fewer per call. A connection carries one call at a time,
// so nothing past the reply can be read ahead; bytes still buffered when
// the next request is written mean the server sent more than its reply,
// and that write fails (the connection is not trusted again).
class ReplySocket final : public TSocket {
 public:
  static constexpr uint32_t kReadAhead = 4096;

  ReplySocket(const std::string& host, int port,
              std::shared_ptr<apache::thrift::TConfiguration> config, int call_timeout_ms)
      : TSocket(host, port, std::move(config)),
        call_timeout_us_(int64_t{call_timeout_ms} * 1000),
        rcv_timeout_us_(call_timeout_us_) {
    setRecvTimeout(call_timeout_ms);  // applied to the socket when it opens
  }

  void SetCallTimeout(int ms) {
    setRecvTimeout(ms);
    call_timeout_us_ = rcv_timeout_us_ = int64_t{ms} * 1000;
  }

  BEACON_HOT void ExpectReplyWithin(int64_t timeout_us) {
    // The kernel counts SO_RCVTIMEO in whole scheduler ticks ending on a
    // tick, so a bound of one tick may end almost at once: ask for one tick
    // more, and the read never ends before the bound. An early end cost the
    // healthy path an exception, a poll and a second read on a few percent
    // of calls; ending up to two ticks late only delays a hedge that
    // long. For the same reason a finer change would buy nothing but a
    // system call per call.
    timeout_us += SchedulerTickUs();
    const int64_t slack_us = std::max<int64_t>(timeout_us / 4, 1000);
    // Never shorter than asked (it would end early again).
    if (rcv_timeout_us_ < timeout_us || rcv_timeout_us_ - timeout_us > slack_us) {
      SetReceiveTimeout(timeout_us);
    }
    first_read_bounded_ = true;
  }

  bool TakeReplyExpired() { return std::exchange(reply_expired_, false); }

  BEACON_HOT uint32_t read(uint8_t* buf, uint32_t len) override {
    if (ahead_begin_ == ahead_end_) {
      // A large body: no copy.
      if (BEACON_UNLIKELY(len >= kReadAhead)) return ReadSocket(buf, len);
      // Both set after the read: one that throws (a bounded first read that
      // expired, a failure) leaves the buffer empty.
      const uint32_t got = ReadSocket(ahead_.get(), kReadAhead);
      ahead_begin_ = 0;
      ahead_end_ = got;
    }
    const uint32_t n = std::min(len, ahead_end_ - ahead_begin_);
    std::memcpy(buf, ahead_.get() + ahead_begin_, n);
    ahead_begin_ += n;
    return n;
  }

  void write(const uint8_t* buf, uint32_t len) override {
    if (ahead_begin_ != ahead_end_) {
      throw TTransportException(TTransportException::CORRUPTED_DATA,
                                "the server sent more than its reply");
    }
    TSocket::write(buf, len);
  }

  void close() override {
    ahead_begin_ = ahead_end_ = 0;
    TSocket::close();
  }

 private:
  // One read from the socket, as TSocket::read, with the bounded first read
  // described above.
  uint32_t ReadSocket(uint8_t* buf, uint32_t len) {
    if (!first_read_bounded_ && rcv_timeout_us_ == call_timeout_us_) {
      return TSocket::read(buf, len);
    }
    const bool first = std::exchange(first_read_bounded_, false);
    const int fd = getSocketFD();
    if (fd < 0) return TSocket::read(buf, len);  // reports the closed socket
    while (true) {
      const ssize_t got = ::recv(fd, buf, len, 0);
      if (BEACON_LIKELY(got >= 0)) return static_cast<uint32_t>(got);
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        if (first) {
          reply_expired_ = true;
          throw TTransportException(TTransportException::TIMED_OUT,
                                    "no reply within the bound");
        }
        // Not a reply's first read (its rest, or a read after the bound
        // expired): it waits the whole call timeout, as TSocket's would.
        SetReceiveTimeout(call_timeout_us_);
        return TSocket::read(buf, len);
      }
      if (err == ECONNRESET) return 0;  // end of stream, as TSocket::read
      throw TTransportException(
          err == ENOTCONN ? TTransportException::NOT_OPEN : TTransportException::UNKNOWN,
          "recv()", err);
    }
  }

  // Sets SO_RCVTIMEO (0 would mean "no timeout": at least 1 us).
  void SetReceiveTimeout(int64_t timeout_us) {
    timeout_us = std::max<int64_t>(1, timeout_us);
    const timeval tv{static_cast<time_t>(timeout_us / 1000000),
                     static_cast<suseconds_t>(timeout_us % 1000000)};
    if (::setsockopt(getSocketFD(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
      throw TTransportException(TTransportException::UNKNOWN, "setsockopt(SO_RCVTIMEO)",
                                errno);
    }
    rcv_timeout_us_ = timeout_us;
  }

  int64_t call_timeout_us_;
  int64_t rcv_timeout_us_;  // SO_RCVTIMEO as set now
  bool first_read_bounded_ = false;
  bool reply_expired_ = false;
  // Bytes read ahead and not yet consumed: [ahead_begin_, ahead_end_).
  std::unique_ptr<uint8_t[]> ahead_{new uint8_t[kReadAhead]};
  uint32_t ahead_begin_ = 0;
  uint32_t ahead_end_ = 0;
};

Result<std::unique_ptr<Channel>> Channel::Open(const Endpoint& endpoint,
                                               const ClientOptions& options) {
  std::unique_ptr<Channel> ch(new Channel());
  ch->endpoint_ = endpoint;
  auto config = MakeTransportConfig(options.max_message_bytes);
  ch->socket_ = std::make_shared<ReplySocket>(endpoint.host, endpoint.port, config,
                                              options.call_timeout_ms);
  ch->socket_->setConnTimeout(options.connect_timeout_ms);
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
  socket_->SetCallTimeout(ms);
  socket_->setSendTimeout(ms);
}

void Channel::ExpectReplyWithin(int64_t timeout_us) {
  socket_->ExpectReplyWithin(timeout_us);
}

bool Channel::TakeReplyExpired() { return socket_->TakeReplyExpired(); }

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
