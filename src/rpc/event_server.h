// EventServer: framed binary Thrift on a few epoll threads ("loops"), for a
// server whose calls may wait a long time (the registry's watch) without a
// thread each.
//
// Ordinary calls run through the connection's TProcessor on its loop
// thread, one after another: they must be quick and never wait. Calls to the one
// "held" method are handed to a HeldMethod, which answers through a HeldCall
// now or later, from any thread. Meanwhile the connection reads no further
// request (a Thrift client waits for each reply anyway).
//
// Limits like ThriftServer's: frames larger than max_message_bytes close the
// connection before allocation, strings and containers are bounded by the
// frame, idle connections are closed, a peer that does not read its replies
// for send_timeout_ms is closed, and past max_connections new connections
// wait in the kernel's backlog.
#pragma once

#include <thrift/TProcessor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

namespace beacon::rpc {

struct EventServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;                     // 0: pick a free port; port() tells which
  int idle_timeout_ms = 30000;      // a connection silent this long is closed
  int send_timeout_ms = 10000;      // a peer that does not read its reply
  int64_t max_connections = 1024;   // further connections wait in the backlog
  int max_message_bytes = 1 << 20;  // larger frames close the connection
  // Loop threads, 1..64, each with its own connections (the kernel spreads
  // new connections over them: SO_REUSEPORT); max_connections holds for all
  // of them together (a loop that stopped accepting at the limit starts
  // again within 200 ms of a slot freeing elsewhere).
  int loop_threads = 2;
};

// The reply of one held call. Safe for concurrent use: Reply and ReplyShared
// may come from any thread; only the first of them counts.
class HeldCall {
 public:
  // The longest `head` ReplyShared takes (it is copied into the reply's
  // queue entry, so answering many calls allocates nothing per call).
  static constexpr size_t kMaxSharedHead = 60;

  virtual ~HeldCall() = default;
  // `message` is the complete reply (Thrift message header and result),
  // without the frame length. Dropped when the connection has closed.
  virtual void Reply(std::string message) = 0;
  // The reply `head` + `*tail` (together the message, without the frame
  // length), for many calls answered with the same bytes but their own
  // header (seqid): `tail` is shared, never copied, and each connection gets
  // frame length, head and tail in one send. kInvalidArgument (and no reply)
  // when `head` is longer than kMaxSharedHead or `tail` is null.
  [[nodiscard]] virtual Status ReplyShared(std::string_view head,
                                           std::shared_ptr<const std::string> tail) = 0;
  // Runs `on_deadline` on the loop thread after `ms` unless Reply came first
  // (at most one deadline per call; a later call replaces it). Call it only
  // on the loop thread (from the HeldMethod or another deadline).
  virtual void ExpireAfter(int ms, std::function<void()> on_deadline) = 0;
};

class EventServer {
 public:
  // The processor for one new connection; `peer` is "address:port".
  using ProcessorForPeer =
      std::function<std::shared_ptr<apache::thrift::TProcessor>(const std::string& peer)>;
  // Takes one call to the held method: `request` is the whole message
  // (unframed). Runs on the loop thread; must not wait.
  using HeldMethod =
      std::function<void(const std::string& peer, const std::string& request,
                         std::shared_ptr<HeldCall> call)>;

  // Binds and listens before returning (port() is real), then serves on its
  // loop threads. kUnavailable naming the address when it cannot bind;
  // kInvalidArgument for loop_threads out of range.
  static Result<std::unique_ptr<EventServer>> Start(const EventServerOptions& options,
                                                    ProcessorForPeer processors,
                                                    std::string held_method,
                                                    HeldMethod held);

  // Stop(5000).
  ~EventServer();
  EventServer(const EventServer&) = delete;
  EventServer& operator=(const EventServer&) = delete;

  int port() const { return port_; }

  // Stops accepting, closes idle connections, lets connections finish the
  // call in progress (a held call must be answered: shut its source down
  // first) and waits up to drain_timeout_ms. True when every connection
  // finished in time; otherwise the rest are closed and false is returned.
  // Safe to call more than once and from any thread.
  bool Stop(int drain_timeout_ms);

  // Connections open right now. Safe from any thread.
  size_t connection_count() const;

  class Loop;  // the loop thread's state (event_server.cc)

 private:
  EventServer() = default;
  size_t CountConnections() const;

  // Set at Start, read-only after (connection counts are atomics).
  std::vector<std::shared_ptr<Loop>> loops_;
  int port_ = 0;
  Mutex mu_;
  std::vector<std::thread> threads_ GUARDED_BY(mu_);  // joined once, by Stop
};

}  // namespace beacon::rpc
