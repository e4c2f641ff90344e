#include "client/session.h"

#include <algorithm>

namespace beacon::client {

Result<std::unique_ptr<Session>> Session::Create(const SessionOptions& options) {
  if (options.timeout_ms < 1 || options.timeout_ms > 600000) {
    return InvalidArgument("--timeout-ms must be 1..600000, got " +
                           std::to_string(options.timeout_ms));
  }
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  rpc::ClientOptions client;
  client.call_timeout_ms = options.timeout_ms;
  client.connect_timeout_ms = std::min(1000, options.timeout_ms);
  s->registry_ = std::make_shared<rpc::ThriftRegistryClient>(options.registry, client);
  rpc::PoolOptions pool;
  pool.client = client;
  s->pool_ = std::make_unique<rpc::ReplicaConnectionPool>(pool, SystemClock::Instance());
  discovery::ServerCacheOptions cache;
  cache.balancer = options.balancer;
  cache.watch = options.watch;
  cache.down_cooloff_ms = options.down_cooloff_ms;
  auto created = discovery::ServerCache::Create(s->registry_, SystemClock::Instance(), cache);
  if (!created.ok()) return created.status();
  s->cache_ = std::move(created).value();
  return s;
}

}  // namespace beacon::client
