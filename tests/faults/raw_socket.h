// Hostile-client tools for the fault tests: a plain TCP connection that sends
// arbitrary bytes (no Thrift), builders for framed-transport frames, and the
// resident memory of a server process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace beacon::faults {

// One TCP connection to 127.0.0.1:port that speaks whatever the test sends.
// Closed on destruction. Not thread-safe.
class RawSocket {
 public:
  // Connects within timeout_ms; nullptr (and the reason on stderr) when it
  // cannot.
  static std::unique_ptr<RawSocket> Connect(int port, int timeout_ms = 2000);
  ~RawSocket();

  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  // Writes every byte; false when the peer has closed or reset the
  // connection (a refused frame may close it half-way through).
  bool Send(std::string_view bytes);

  // Waits up to timeout_ms for the peer to close the connection (end of file
  // or reset), discarding anything it sends meanwhile. True when it closed.
  bool WaitForClose(int timeout_ms);

  // Half-closes our side (the server reads end of file).
  void ShutdownWrite();

 private:
  explicit RawSocket(int fd) : fd_(fd) {}
  int fd_;
};

// A framed-transport frame: 4-byte big-endian length, then the payload.
std::string Frame(std::string_view payload);

// Only the 4-byte length prefix, claiming `claimed_size` bytes will follow.
std::string FrameHeader(uint32_t claimed_size);

// A binary-protocol (strict) call message header for `method` with sequence
// id 1, without the arguments struct.
std::string CallHeader(std::string_view method);

// VmRSS (resident now) and VmHWM (the most it was ever resident) of `pid`
// from /proc/PID/status, in KiB; -1 when they cannot be read.
long ResidentKiB(pid_t pid);
long PeakResidentKiB(pid_t pid);

}  // namespace beacon::faults
