// Channel: one client TCP connection speaking Beacon's wire format (framed
// transport, binary protocol, bounded frames) plus the helper that turns a
// Thrift call's exceptions into a Status and a transport-failure flag. A
// reply that arrived whole is read with one recv (the socket reads ahead; a
// connection carries one call at a time, and a server that sends more than
// its reply fails the next call in the transport).
#pragma once

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TProtocol.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TTransportException.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/endpoint.h"
#include "core/hot.h"
#include "core/status.h"
#include "rpc/status_mapping.h"

namespace apache::thrift::transport {
class TSocket;
class TTransport;
}  // namespace apache::thrift::transport

namespace beacon::rpc {

class ReplySocket;  // channel.cc: a TSocket that reads ahead, whose first read of a
                    // reply may be bounded

struct ClientOptions {
  int connect_timeout_ms = 1000;
  int call_timeout_ms = 5000;        // send and receive of one call
  int max_message_bytes = 16 << 20;  // replies larger than this are refused
};

// Not thread-safe, except Abort(), which may be called from another thread.
class Channel {
 public:
  // Connects within options.connect_timeout_ms. kUnavailable naming the
  // address and the reason when it cannot.
  static Result<std::unique_ptr<Channel>> Open(const Endpoint& endpoint,
                                               const ClientOptions& options);
  ~Channel();

  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol() { return protocol_; }
  const Endpoint& endpoint() const { return endpoint_; }

  // Changes the send/receive timeout (a watch waits longer than a call).
  void SetCallTimeout(int ms);

  // Bounds the wait for the next reply's first bytes to `timeout_us` (> 0;
  // hedging's first wait, client::Attempt::FinishWithin), plus up to two
  // scheduler ticks, never less (see below): when nothing
  // has arrived by then, the next read from the socket throws a transport
  // error having consumed nothing, and ReplyExpired() returns true, so the
  // connection stays usable and the reply can be read later. Once a reply's
  // first bytes are read, the rest waits up to the call timeout as usual.
  // Costs no system call while the socket's current receive timeout is at
  // least the bound and within a quarter (or 1 ms) above it (SO_RCVTIMEO, which the
  // kernel counts in scheduler ticks: the bound asks for one tick more, so the wait ends
  // between the bound and two ticks after it, never early).
  BEACON_HOT void ExpectReplyWithin(int64_t timeout_us);
  // True, once, after a read ended by ExpectReplyWithin's bound.
  BEACON_HOT bool TakeReplyExpired();

  // Unblocks a call in progress on another thread (it fails with a transport
  // error). The channel must not be used afterwards except to destroy it.
  void Abort();

  // The connection's socket, for waiting on several channels at once
  // (WaitForReadable); -1 once closed. Read or write only through protocol().
  int socket_fd() const;

  // Monotonic time of the last Touch(), for idle-connection eviction.
  int64_t last_used_us() const { return last_used_us_; }
  void Touch(int64_t now_us) { last_used_us_ = now_us; }

 private:
  Channel() = default;
  Endpoint endpoint_;
  std::shared_ptr<ReplySocket> socket_;
  std::shared_ptr<apache::thrift::transport::TTransport> transport_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol_;
  int64_t last_used_us_ = 0;
};

// Blocks until one of `fds` is readable (data, end of stream or an error:
// whatever makes a read return without waiting) or `timeout_us` passes.
// Returns the index of a readable one, -1 on timeout; a negative fd counts as
// readable at once. timeout_us <= 0 checks without blocking. Interrupted
// waits resume with the time left.
int WaitForReadable(const std::vector<int>& fds, int64_t timeout_us);

// The outcome of one remote call.
template <class T>
struct RpcResult {
  Result<T> result;
  // True when the call failed in the transport (connect, send, receive,
  // malformed reply): the server may be down and the connection is unusable.
  // False for a typed error the server answered with.
  bool transport_failure = false;
  // False when the connection's state is unknown after the call (a transport
  // failure, or an exception nobody expected): close it rather than reuse it.
  bool connection_reusable = true;
  // True when the transport failure was a timeout (the server accepted the
  // call but did not answer in time: slow or hung, not a stale connection).
  bool timed_out = false;
};

// Runs fn() (a generated-client call that returns T) and classifies what it
// throws, so that no exception escapes:
//   - the IDL exception E becomes its Status (the server answered);
//   - transport and protocol errors become kUnavailable with
//     transport_failure set (and timed_out for a timeout);
//   - a TApplicationException (the server failed unexpectedly, e.g. an
//     unknown method) becomes kInternal; the connection stays usable;
//   - any other exception (another IDL exception than E, std::bad_alloc,
//     ...) becomes kInternal and the connection is not reused.
template <class T, class E, class F>
RpcResult<T> InvokeRpc(const Endpoint& endpoint, F&& fn) {
  try {
    return {Result<T>(fn()), false, true};
  } catch (const E& e) {
    return {Result<T>(FromIdlError(e)), false, true};
  } catch (const apache::thrift::transport::TTransportException& e) {
    return {Result<T>(Unavailable(endpoint.ToString() + ": " + e.what())), true, false,
            e.getType() == apache::thrift::transport::TTransportException::TIMED_OUT};
  } catch (const apache::thrift::protocol::TProtocolException& e) {
    return {Result<T>(Unavailable(endpoint.ToString() + ": bad reply: " + e.what())),
            true, false};
  } catch (const apache::thrift::TApplicationException& e) {
    return {Result<T>(Internal(endpoint.ToString() + ": " + e.what())), false, true};
  } catch (const std::exception& e) {
    return {Result<T>(Internal(endpoint.ToString() + ": unexpected error: " + e.what())),
            false, false};
  } catch (...) {
    return {
        Result<T>(Internal(endpoint.ToString() + ": unexpected non-standard exception")),
        false, false};
  }
}

}  // namespace beacon::rpc
