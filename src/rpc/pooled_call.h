// PooledCall: the Thrift side of client::ServerCall. Each copy of a call
// (client::Attempt) takes its own pooled connection to the chosen replica and
// sends the request with the generated client's send_ half; Finish reads the
// answer with the recv_ half and classifies the outcome (rpc::InvokeRpc:
// nothing escapes), gives the connection back when it is still in a known
// state, or closes it and the replica's idle connections after a transport
// failure. A copy destroyed before Finish closes its connection (a reply may
// still be on the way). FinishWithin bounds the read's wait instead of
// polling first (Channel::ExpectReplyWithin), so the common hedged call makes
// the same system calls as an unhedged one. SocketAttemptWaiter waits on
// several copies at once with ppoll, so one session thread can have two
// copies in flight.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "client/failover.h"
#include "core/hot.h"
#include "rpc/channel.h"
#include "rpc/replica_connection_pool.h"

namespace beacon::rpc {

// A copy whose answer arrives on a socket.
class SocketAttempt : public client::Attempt {
 public:
  // The connection's socket while the answer is unread; -1 when there is
  // nothing to wait for (never sent, or already finished).
  virtual int socket_fd() const = 0;
};

// Waits for SocketAttempts with WaitForReadable, measuring the deadline on
// `clock` (the session's). Not thread-safe (one per session).
class SocketAttemptWaiter final : public client::AttemptWaiter {
 public:
  explicit SocketAttemptWaiter(const Clock& clock) : clock_(clock) {}
  int WaitAny(const std::vector<client::Attempt*>& attempts,
              int64_t deadline_us) override {
    fds_.clear();
    for (client::Attempt* a : attempts) {
      const auto* s = dynamic_cast<const SocketAttempt*>(a);
      fds_.push_back(s != nullptr ? s->socket_fd() : -1);
    }
    return WaitForReadable(fds_, deadline_us - clock_.NowMicros());
  }

 private:
  const Clock& clock_;
  std::vector<int> fds_;
};

// Memory for objects of kBytes, kept per thread for the next one instead of
// freed: a session makes and destroys one attempt per call, and so needs no
// malloc or free per call. Keeps at most kKeep blocks per thread (a call has
// at most two copies, plus the abandoned ones draining); the rest are freed.
// Blocks may be freed on another thread than the one that took them.
template <size_t kBytes>
class RecycledBlocks {
 public:
  static void* Take() {
    Blocks& mine = Mine();
    if (mine.count > 0) return mine.blocks[--mine.count];
    return ::operator new(kBytes);
  }
  static void Give(void* block) {
    Blocks& mine = Mine();
    if (mine.count < kKeep) {
      mine.blocks[mine.count++] = block;
    } else {
      ::operator delete(block);
    }
  }

 private:
  static constexpr int kKeep = 4;
  struct Blocks {
    void* blocks[kKeep] = {};
    int count = 0;
    ~Blocks() {
      while (count > 0) ::operator delete(blocks[--count]);
    }
  };
  static Blocks& Mine() {
    thread_local Blocks blocks;
    return blocks;
  }
};

// T: the reply type; E: the service's IDL exception; Recv:
// void(ReplicaConnection&, T&) reading the reply into the given T (the
// generated recv_ method); it is copied into the attempt, so it must not
// refer to the caller's stack. The reply is read straight into the attempt
// and moved once more, to the call, by Accept.
template <class T, class E, class Recv>
class PooledAttempt final : public SocketAttempt {
 public:
  // A copy that could not be sent: Finish reports `failure`.
  PooledAttempt(ReplicaConnectionPool& pool, ReplicaConnectionPool::Slot& slot,
                client::AttemptOutcome failure)
      : pool_(pool), slot_(slot), failure_(std::move(failure)) {}
  // A copy sent on `conn`, a connection of `slot`.
  PooledAttempt(ReplicaConnectionPool& pool, ReplicaConnectionPool::Slot& slot,
                std::unique_ptr<ReplicaConnection> conn, Recv recv)
      : pool_(pool), slot_(slot), conn_(std::move(conn)), recv_(std::move(recv)) {}

  // One per call: from RecycledBlocks, not malloc.
  static void* operator new(size_t size) {
    return size == sizeof(PooledAttempt) ? RecycledBlocks<sizeof(PooledAttempt)>::Take()
                                         : ::operator new(size);
  }
  static void operator delete(void* block, size_t size) {
    if (size == sizeof(PooledAttempt)) {
      RecycledBlocks<sizeof(PooledAttempt)>::Give(block);
    } else {
      ::operator delete(block);
    }
  }

  BEACON_HOT client::AttemptOutcome Finish() override { return *Read(0); }

  BEACON_HOT std::optional<client::AttemptOutcome> FinishWithin(
      int64_t timeout_us) override {
    if (BEACON_UNLIKELY(!conn_)) return failure_;
    if (BEACON_UNLIKELY(timeout_us <= 0)) return std::nullopt;
    return Read(timeout_us);
  }

  int socket_fd() const override { return conn_ ? conn_->channel().socket_fd() : -1; }

  // The reply read by a Finish that returned ok (moved from by the caller).
  T&& TakeReply() { return std::move(reply_); }

 private:
  ReplicaConnectionPool& pool_;
  ReplicaConnectionPool::Slot& slot_;        // where the connection goes back
  std::unique_ptr<ReplicaConnection> conn_;  // while the answer is unread
  std::optional<Recv> recv_;
  client::AttemptOutcome failure_;
  T reply_;  // valid after a Finish that returned ok

  // Reads the answer (waiting at most about `bound_us` for its first bytes
  // when > 0; nullopt when that passed with nothing read, the connection
  // kept) and gives the connection back or closes it.
  BEACON_HOT std::optional<client::AttemptOutcome> Read(int64_t bound_us) {
    if (BEACON_UNLIKELY(!conn_)) return failure_;
    Channel& channel = conn_->channel();
    RpcResult<bool> out = InvokeRpc<bool, E>(channel.endpoint(), [&] {
      if (bound_us > 0) channel.ExpectReplyWithin(bound_us);
      (*recv_)(*conn_, reply_);
      return true;
    });
    if (BEACON_UNLIKELY(out.transport_failure) && channel.TakeReplyExpired()) {
      return std::nullopt;
    }
    std::unique_ptr<ReplicaConnection> conn = std::move(conn_);
    if (BEACON_LIKELY(out.connection_reusable)) {
      pool_.Release(slot_, std::move(conn));
    } else if (out.transport_failure) {
      pool_.Forget(slot_);
    }
    if (BEACON_UNLIKELY(!out.result.ok())) {
      return client::AttemptOutcome{out.result.status(), out.transport_failure};
    }
    return client::AttemptOutcome{Status::Ok(), false};
  }
};

// Send: void(ReplicaConnection&) sending the request (the generated send_
// method; may refer to the caller's arguments, used only inside Start).
// Not thread-safe; lives for one session call. `pool` and `send` must outlive
// it; `pool` must outlive every attempt it starts.
template <class T, class E, class Send, class Recv>
class PooledCall final : public client::ServerCall {
 public:
  using Copy = PooledAttempt<T, E, Recv>;

  PooledCall(ReplicaConnectionPool& pool, Send& send, Recv recv)
      : pool_(pool), send_(send), recv_(std::move(recv)) {}

  BEACON_HOT std::unique_ptr<client::Attempt> Start(const InstanceInfo& picked,
                                                    int64_t now_us) override {
    // The copy gives its connection back to the slot: nothing of `picked`
    // is copied.
    ReplicaConnectionPool::Slot& slot = pool_.Find(picked.id);
    auto conn = pool_.Acquire(slot, picked, now_us);
    if (BEACON_UNLIKELY(!conn.ok())) return Unsent(slot, conn.status(), true);
    RpcResult<bool> sent = InvokeRpc<bool, E>((*conn)->endpoint(), [&] {
      send_(**conn);
      return true;
    });
    if (BEACON_UNLIKELY(!sent.result.ok())) {
      // Nothing is known to be on the way: close it (and the replica's idle
      // connections after a transport failure).
      if (sent.transport_failure) pool_.Forget(slot);
      return Unsent(slot, sent.result.status(), sent.transport_failure);
    }
    return std::make_unique<Copy>(pool_, slot, std::move(conn).value(), recv_);
  }

  BEACON_HOT void Accept(client::Attempt& winner) override {
    reply_ = static_cast<Copy&>(winner).TakeReply();
  }

  // The reply of the copy that answered first (moved from by the caller);
  // call only after Run returned ok.
  T&& TakeReply() { return std::move(*reply_); }

 private:
  // A copy that was not sent; its Finish reports `status`. Out of line and
  // cold, so that the sent copy's code stays small.
  [[gnu::noinline, gnu::cold]] std::unique_ptr<client::Attempt> Unsent(
      ReplicaConnectionPool::Slot& slot, const Status& status, bool transport_failure) {
    return std::make_unique<Copy>(pool_, slot,
                                  client::AttemptOutcome{status, transport_failure});
  }

  ReplicaConnectionPool& pool_;
  Send& send_;
  Recv recv_;
  std::optional<T> reply_;
};

}  // namespace beacon::rpc
