#include "rpc/watch_fleet.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "Registry.h"
#include "rpc/watch_reply.h"

namespace beacon::rpc {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TMemoryBuffer;

namespace {

int64_t ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

// Decodes one watch reply: its version, or an error text.
bool DecodeReply(std::string& message, int64_t* version, std::string* error) {
  try {
    auto buffer =
        std::make_shared<TMemoryBuffer>(reinterpret_cast<uint8_t*>(message.data()),
                                        static_cast<uint32_t>(message.size()));
    TBinaryProtocol protocol(buffer);
    std::string name;
    apache::thrift::protocol::TMessageType type;
    int32_t seqid;
    protocol.readMessageBegin(name, type, seqid);
    if (type == apache::thrift::protocol::T_EXCEPTION) {
      *error = "TApplicationException from the registry";
      return false;
    }
    idl::Membership m;
    idl::Registry_watch_presult result;
    result.success = &m;
    result.read(&protocol);
    if (result.__isset.err) {
      *error = "RegistryError: " + result.err.message;
      return false;
    }
    if (!result.__isset.success) {
      *error = "empty watch reply";
      return false;
    }
    *version = m.version;
    return true;
  } catch (const std::exception& e) {
    *error = std::string("undecodable watch reply: ") + e.what();
    return false;
  }
}

}  // namespace

int64_t WatchFleet::NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<WatchFleet>> WatchFleet::Open(const Endpoint& registry,
                                                     int connections) {
  if (connections < 1 || connections > 100000) {
    return InvalidArgument("connections must be 1..100000, got " +
                           std::to_string(connections));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(registry.host.c_str(), std::to_string(registry.port).c_str(),
                           &hints, &found);
      rc != 0 || found == nullptr) {
    return Unavailable("cannot resolve " + registry.ToString() + ": " + gai_strerror(rc));
  }
  std::unique_ptr<WatchFleet> fleet(new WatchFleet());
  fleet->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  fleet->fds_.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
      const std::string why = std::strerror(errno);
      if (fd >= 0) close(fd);
      freeaddrinfo(found);
      return Unavailable("watch connection " + std::to_string(i + 1) + " of " +
                         std::to_string(connections) + " to " + registry.ToString() +
                         ": " + why);
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(fleet->epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    fleet->fds_.push_back(fd);
  }
  freeaddrinfo(found);
  return fleet;
}

WatchFleet::~WatchFleet() {
  for (int fd : fds_) close(fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

Status WatchFleet::SendAll(const std::string& service, int64_t known_version,
                           int max_wait_ms) {
  const std::string framed =
      FramedWatchCall(service, known_version, max_wait_ms, ++seqid_);
  for (size_t i = 0; i < fds_.size(); ++i) {
    size_t sent = 0;
    while (sent < framed.size()) {
      const ssize_t k =
          send(fds_[i], framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
      if (k > 0) {
        sent += static_cast<size_t>(k);
      } else if (k < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;  // a 60-byte request on an idle socket: never waits long
      } else {
        return Unavailable("sending watch on connection " + std::to_string(i + 1) + ": " +
                           std::strerror(errno));
      }
    }
  }
  return Status::Ok();
}

WatchFleet::Replies WatchFleet::Await(int timeout_ms) {
  const int64_t cpu0 = ThreadCpuMicros();
  Replies out;
  const size_t n = fds_.size();
  out.received_us.assign(n, -1);
  out.version.assign(n, -1);
  std::vector<std::string> in(n);
  size_t done = 0;
  const int64_t deadline = NowMicros() + int64_t{timeout_ms} * 1000;
  std::vector<epoll_event> events(1024);
  const auto fail = [&](size_t i, const std::string& why) {
    if (out.failed++ == 0) out.first_error = why;
    out.received_us[i] = -2;  // answered, but not with a membership
    ++done;
  };
  while (done < n) {
    const int64_t left_ms = (deadline - NowMicros()) / 1000;
    if (left_ms <= 0) break;
    const int got = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(left_ms));
    const int64_t now = NowMicros();
    for (int e = 0; e < got; ++e) {
      const size_t i = events[static_cast<size_t>(e)].data.u32;
      if (out.received_us[i] != -1) continue;
      char buf[4096];
      const ssize_t k = read(fds_[i], buf, sizeof buf);
      if (k <= 0) {
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        fail(i, k == 0 ? "registry closed a watch connection" : std::strerror(errno));
        continue;
      }
      in[i].append(buf, static_cast<size_t>(k));
      if (in[i].size() < 4) continue;
      uint32_t be;
      std::memcpy(&be, in[i].data(), 4);
      const size_t len = ntohl(be);
      if (in[i].size() < len + 4) continue;
      std::string message = in[i].substr(4, len);
      in[i].clear();
      std::string error;
      int64_t version = -1;
      if (!DecodeReply(message, &version, &error)) {
        fail(i, error);
        continue;
      }
      out.received_us[i] = now;
      out.version[i] = version;
      if (out.first_us < 0) out.first_us = now;
      out.last_us = now;
      ++done;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (out.received_us[i] == -1) {
      if (out.failed++ == 0) out.first_error = "no watch reply within the timeout";
    }
    if (out.received_us[i] == -2) out.received_us[i] = -1;
  }
  out.receive_cpu_us = ThreadCpuMicros() - cpu0;
  return out;
}

}  // namespace beacon::rpc
