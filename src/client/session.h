// Session: one client session of Beacon. It owns the session's registry
// client, its ServerCache (one lookup per service, kept fresh by a watch,
// balanced by the chosen policy, down marks) and its pooled connections to
// replicas, and it runs calls with the failover rule: a call that fails in
// the transport marks the server down and is retried once on another server.
// Every Beacon call is idempotent (votes repeat to the original receipt,
// createPoll carries a request id), so the retry never doubles an effect.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/endpoint.h"
#include "discovery/server_cache.h"
#include "rpc/replica_connection_pool.h"
#include "rpc/thrift_registry_client.h"

namespace beacon::client {

struct SessionOptions {
  Endpoint registry{"127.0.0.1", 9090};
  std::string balancer = "round-robin";
  int timeout_ms = 5000;  // one call's send+receive; connects get min(1000, this)
  bool watch = true;      // keep the cached list fresh with a background watch
  int64_t down_cooloff_ms = 5000;
};

// Not thread-safe as a whole: one thread drives a session (the load generator
// gives each simulated client its own). The cache's background thread is
// internal.
class Session {
 public:
  // kInvalidArgument for a bad balancer name or timeout.
  static Result<std::unique_ptr<Session>> Create(const SessionOptions& options);

  // Calls fn(ReplicaConnection&) -> T on a server of `service` ("prime" or
  // "voting"). E is the service's IDL exception type. Transport failure:
  // the server is marked down and the call retried once on another one.
  // Returns the server's typed error as its Status, kUnavailable when no
  // server could be reached.
  template <class T, class E, class F>
  Result<T> Call(const std::string& service, F&& fn);

  discovery::ServerCache& cache() { return *cache_; }
  rpc::ThriftRegistryClient& registry() { return *registry_; }
  const SessionOptions& options() const { return options_; }
  int64_t retries() const { return retries_; }

 private:
  Session() = default;

  SessionOptions options_;
  std::shared_ptr<rpc::ThriftRegistryClient> registry_;
  std::unique_ptr<rpc::ReplicaConnectionPool> pool_;
  std::unique_ptr<discovery::ServerCache> cache_;  // destroyed first (stops its thread)
  int64_t retries_ = 0;
};

template <class T, class E, class F>
Result<T> Session::Call(const std::string& service, F&& fn) {
  const Clock& clock = SystemClock::Instance();
  std::vector<std::string> failed;
  Status last = Unavailable("no attempt made");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto server = cache_->Pick(service, failed);
    if (!server.ok()) return attempt == 0 ? server.status() : last;
    const Endpoint endpoint{server->host, server->port};
    const int64_t start = clock.NowMicros();
    auto conn = pool_->Acquire(*server);
    rpc::RpcResult<T> out{Result<T>(Unavailable("")), true};
    if (conn.ok()) {
      rpc::ReplicaConnection& c = **conn;
      out = rpc::InvokeRpc<T, E>(endpoint, [&] { return fn(c); });
    } else {
      out.result = Result<T>(conn.status());
    }
    if (!out.transport_failure) {
      cache_->ReportSuccess(service, server->id, clock.NowMicros() - start);
      pool_->Release(*server, std::move(conn).value());
      return std::move(out.result);
    }
    cache_->ReportTransportFailure(service, server->id);
    pool_->Forget(server->id);
    last = Unavailable("server " + server->id + " failed: " + out.result.status().message());
    failed.push_back(server->id);
    if (attempt == 0) ++retries_;
  }
  return last;
}

}  // namespace beacon::client
