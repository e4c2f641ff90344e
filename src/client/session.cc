#include "client/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "Prime.h"
#include "Voting.h"
#include "discovery/snapshot_file.h"
#include "rpc/pooled_call.h"
#include "rpc/thrift_registry_client.h"

namespace beacon::client {

namespace {
// Made once, not per call: every call names its service.
const std::string& PrimeService() {
  static const std::string* const name = new std::string("prime");
  return *name;
}
const std::string& VotingService() {
  static const std::string* const name = new std::string("voting");
  return *name;
}
}  // namespace

Result<std::unique_ptr<Session>> Session::Create(const SessionOptions& options,
                                                 const Clock& clock) {
  if (options.timeout_ms < 1 || options.timeout_ms > 600000) {
    return InvalidArgument("--timeout-ms must be 1..600000, got " +
                           std::to_string(options.timeout_ms));
  }
  if (options.registry_timeout_ms < 1 || options.registry_timeout_ms > 600000) {
    return InvalidArgument("registry_timeout_ms must be 1..600000, got " +
                           std::to_string(options.registry_timeout_ms));
  }
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  rpc::ClientOptions registry_client;
  registry_client.call_timeout_ms = options.registry_timeout_ms;
  registry_client.connect_timeout_ms = std::min(1000, options.registry_timeout_ms);
  std::vector<std::shared_ptr<discovery::RegistryClient>> registries;
  for (const Endpoint& ep : options.registries) {
    registries.push_back(
        std::make_shared<rpc::ThriftRegistryClient>(ep, registry_client));
  }
  // A random first registry, so sessions spread their lookups and watches.
  const size_t first =
      registries.empty() ? 0 : std::random_device{}() % registries.size();
  auto failover = discovery::RegistryFailoverClient::Create(std::move(registries), first);
  if (!failover.ok()) return failover.status();
  s->registry_ = std::move(failover).value();
  std::shared_ptr<discovery::SnapshotStore> snapshot;
  if (!options.cache_dir.empty()) {
    discovery::SnapshotFile::Warn warn = options.warn;
    if (!warn) warn = [](const std::string& w) { spdlog::warn("{}", w); };
    snapshot = std::make_shared<discovery::SnapshotFile>(
        options.cache_dir, discovery::RegistriesKey(options.registries), std::move(warn));
  }
  rpc::ClientOptions client;
  client.call_timeout_ms = options.timeout_ms;
  client.connect_timeout_ms = std::min(1000, options.timeout_ms);
  rpc::PoolOptions pool;
  pool.client = client;
  s->pool_ = std::make_unique<rpc::ReplicaConnectionPool>(pool, clock);
  discovery::ServerCacheOptions cache;
  cache.balancer = options.balancer;
  cache.watch = options.watch;
  cache.down_cooloff_ms = options.down_cooloff_ms;
  auto created =
      discovery::ServerCache::Create(s->registry_, clock, cache, std::move(snapshot));
  if (!created.ok()) return created.status();
  s->cache_ = std::move(created).value();
  s->waiter_ = std::make_unique<rpc::SocketAttemptWaiter>(clock);
  FailoverOptions rules;
  rules.hedge = options.hedge;
  rules.call_timeout_us = static_cast<int64_t>(options.timeout_ms) * 1000;
  s->failover_ = std::make_unique<Failover>(*s->cache_, clock, *s->waiter_, rules);
  return s;
}

Session::~Session() = default;

template <class T, class E, class Send, class Recv>
Result<T> Session::Invoke(const std::string& service, Send send, Recv recv) {
  rpc::PooledCall<T, E, Send, Recv> call(*pool_, send, std::move(recv));
  if (Status s = failover_->Run(service, call); !s.ok()) return s;
  return call.TakeReply();
}

// Each call is sent with the generated client's send_ half and read with its
// recv_ half (straight into the copy's reply), so that a hedged copy can be
// sent while another is in flight.

Result<idl::PrimeReply> Session::IsPrime(int64_t n) {
  return Invoke<idl::PrimeReply, idl::PrimeError>(
      PrimeService(), [&](rpc::ReplicaConnection& c) { c.prime().send_isPrime(n); },
      [](rpc::ReplicaConnection& c, idl::PrimeReply& r) { c.prime().recv_isPrime(r); });
}

Result<idl::CountReply> Session::CountPrimes(int64_t lo, int64_t hi) {
  return Invoke<idl::CountReply, idl::PrimeError>(
      PrimeService(),
      [&](rpc::ReplicaConnection& c) { c.prime().send_countPrimes(lo, hi); },
      [](rpc::ReplicaConnection& c, idl::CountReply& r) {
        c.prime().recv_countPrimes(r);
      });
}

Result<idl::CreatePollReply> Session::CreatePoll(const std::string& question,
                                                 const std::vector<std::string>& options,
                                                 const std::string& request_id) {
  return Invoke<idl::CreatePollReply, idl::VotingError>(
      VotingService(),
      [&](rpc::ReplicaConnection& c) {
        c.voting().send_createPoll(question, options, request_id);
      },
      [](rpc::ReplicaConnection& c, idl::CreatePollReply& r) {
        c.voting().recv_createPoll(r);
      });
}

Result<idl::VoteReceipt> Session::CastVote(int64_t poll_id, const std::string& voter_id,
                                           const std::string& option) {
  return Invoke<idl::VoteReceipt, idl::VotingError>(
      VotingService(),
      [&](rpc::ReplicaConnection& c) {
        c.voting().send_castVote(poll_id, voter_id, option);
      },
      [](rpc::ReplicaConnection& c, idl::VoteReceipt& r) {
        c.voting().recv_castVote(r);
      });
}

Result<idl::PollResults> Session::Results(int64_t poll_id) {
  return Invoke<idl::PollResults, idl::VotingError>(
      VotingService(),
      [&](rpc::ReplicaConnection& c) { c.voting().send_results(poll_id); },
      [](rpc::ReplicaConnection& c, idl::PollResults& r) { c.voting().recv_results(r); });
}

Result<idl::PollList> Session::ListPolls(int32_t limit) {
  return Invoke<idl::PollList, idl::VotingError>(
      VotingService(),
      [&](rpc::ReplicaConnection& c) { c.voting().send_listPolls(limit); },
      [](rpc::ReplicaConnection& c, idl::PollList& r) { c.voting().recv_listPolls(r); });
}

Result<idl::ClosePollReply> Session::ClosePoll(int64_t poll_id) {
  return Invoke<idl::ClosePollReply, idl::VotingError>(
      VotingService(),
      [&](rpc::ReplicaConnection& c) { c.voting().send_closePoll(poll_id); },
      [](rpc::ReplicaConnection& c, idl::ClosePollReply& r) {
        c.voting().recv_closePoll(r);
      });
}

}  // namespace beacon::client
