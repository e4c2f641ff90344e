// WatchFleet: many connections to one registry, each with one `watch` call
// in flight, all driven by the calling thread through epoll. How benchmarks
// and load tests hold thousands of waiting watchers (one per connection, as
// real clients have) without a client thread each, so the client side is not
// what limits the measurement.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/endpoint.h"
#include "core/status.h"

namespace beacon::rpc {

// Not thread-safe: one thread drives a fleet.
class WatchFleet {
 public:
  // What one round of watches received, per connection.
  struct Replies {
    std::vector<int64_t> received_us;  // steady-clock micros at receipt; -1: none
    std::vector<int64_t> version;      // the reply's version; -1: none
    int failed = 0;                    // errors and missing replies
    std::string first_error;
    int64_t receive_cpu_us = 0;  // CPU this thread spent in Await
    int64_t first_us = -1;       // earliest and latest receipt (steady micros)
    int64_t last_us = -1;
  };

  // Opens `connections` TCP connections (1..100000) to `registry`.
  // kUnavailable naming the connection that failed (e.g. EMFILE: raise the
  // open-file limit), kInvalidArgument for a bad count.
  static Result<std::unique_ptr<WatchFleet>> Open(const Endpoint& registry,
                                                  int connections);
  ~WatchFleet();
  WatchFleet(const WatchFleet&) = delete;
  WatchFleet& operator=(const WatchFleet&) = delete;

  int size() const { return static_cast<int>(fds_.size()); }

  // Sends watch(service, known_version, max_wait_ms) on every connection
  // (framed binary Thrift). kUnavailable when a send fails.
  Status SendAll(const std::string& service, int64_t known_version, int max_wait_ms);

  // Receives until every connection has its reply or timeout_ms passes.
  Replies Await(int timeout_ms);

  // Steady-clock micros, the clock of Replies::received_us.
  static int64_t NowMicros();

 private:
  WatchFleet() = default;

  std::vector<int> fds_;
  int epoll_fd_ = -1;
  int32_t seqid_ = 0;
};

}  // namespace beacon::rpc
