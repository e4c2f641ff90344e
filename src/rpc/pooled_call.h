// PooledCall: the Thrift side of client::ServerCall. One attempt takes a
// pooled connection to the chosen replica, runs one generated-client call on
// it, classifies the outcome (rpc::InvokeRpc: nothing escapes), and gives
// the connection back when it is still in a known state, or closes it and
// the replica's idle connections after a transport failure.
#pragma once

#include <optional>
#include <utility>

#include "client/failover.h"
#include "rpc/channel.h"
#include "rpc/replica_connection_pool.h"

namespace beacon::rpc {

// T: the reply type; E: the service's IDL exception; F: T(ReplicaConnection&).
// Not thread-safe; lives for one session call. `pool` and `fn` must outlive it.
template <class T, class E, class F>
class PooledCall final : public client::ServerCall {
 public:
  PooledCall(ReplicaConnectionPool& pool, F& fn) : pool_(pool), fn_(fn) {}

  client::AttemptOutcome Attempt(const InstanceInfo& server) override {
    auto conn = pool_.Acquire(server);
    if (!conn.ok()) return {conn.status(), /*transport_failure=*/true};
    ReplicaConnection& c = **conn;
    RpcResult<T> out =
        InvokeRpc<T, E>(Endpoint{server.host, server.port}, [&] { return fn_(c); });
    if (out.connection_reusable) {
      pool_.Release(server, std::move(conn).value());
    } else if (out.transport_failure) {
      pool_.Forget(server.id);
    }
    if (!out.result.ok()) return {out.result.status(), out.transport_failure};
    reply_ = std::move(out.result).value();
    return {Status::Ok(), false};
  }

  // The reply of the attempt that succeeded; call only after Run returned ok.
  T TakeReply() { return std::move(*reply_); }

 private:
  ReplicaConnectionPool& pool_;
  F& fn_;
  std::optional<T> reply_;
};

}  // namespace beacon::rpc
