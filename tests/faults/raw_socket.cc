#include "raw_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace beacon::faults {

std::unique_ptr<RawSocket> RawSocket::Connect(int port, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    std::perror("socket");
    return nullptr;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      std::fprintf(stderr, "connect to port %d: %s\n", port, std::strerror(errno));
      ::close(fd);
      return nullptr;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, timeout_ms) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      std::fprintf(stderr, "connect to port %d: %s\n", port,
                   err ? std::strerror(err) : "timed out");
      ::close(fd);
      return nullptr;
    }
  }
  return std::unique_ptr<RawSocket>(new RawSocket(fd));
}

RawSocket::~RawSocket() { ::close(fd_); }

bool RawSocket::Send(std::string_view bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 2000) != 1) return false;
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool RawSocket::WaitForClose(int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;  // orderly close
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return true;  // reset
    }
  }
}

void RawSocket::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

std::string FrameHeader(uint32_t claimed_size) {
  std::string out(4, '\0');
  out[0] = static_cast<char>((claimed_size >> 24) & 0xff);
  out[1] = static_cast<char>((claimed_size >> 16) & 0xff);
  out[2] = static_cast<char>((claimed_size >> 8) & 0xff);
  out[3] = static_cast<char>(claimed_size & 0xff);
  return out;
}

std::string Frame(std::string_view payload) {
  return FrameHeader(static_cast<uint32_t>(payload.size())) + std::string(payload);
}

std::string CallHeader(std::string_view method) {
  // Strict binary protocol: VERSION_1 | T_CALL, method name, sequence id.
  std::string out = FrameHeader(0x80010001u);
  out += FrameHeader(static_cast<uint32_t>(method.size()));
  out += method;
  out += FrameHeader(1);
  return out;
}

namespace {

long StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      std::istringstream fields(line.substr(field.size()));
      long kib = -1;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}

}  // namespace

long ResidentKiB(pid_t pid) { return StatusKiB(pid, "VmRSS:"); }
long PeakResidentKiB(pid_t pid) { return StatusKiB(pid, "VmHWM:"); }

}  // namespace beacon::faults
