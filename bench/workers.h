// The plain Thrift baselines the scenarios set against Beacon's full client
// path (client::SessionLoadWorker: a client::Session per worker). Workers that
// sit on the two sides of a ratio get the same payloads (same seeds) and the
// same connection rules: connections opened once per worker, reused for
// every call, one per replica.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "client/load_operations.h"
#include "core/endpoint.h"
#include "load_loop.h"
#include "rpc/channel.h"

namespace beacon::bench {

// The numbers a worker asks about: a deterministic sequence per seed, so
// the plain and the Beacon worker with the same index send the same calls.
// Not thread-safe.
class Payload {
 public:
  explicit Payload(uint64_t seed) : rng_(seed) {}
  int64_t NextNumber() { return static_cast<int64_t>(rng_()); }
  // A range [lo, lo + width - 1] with lo below 10^9 (a realistic sieve).
  std::pair<int64_t, int64_t> NextRange(uint64_t width);

 private:
  std::mt19937_64 rng_;
};

// isPrime round-robin over `replicas` with plain Thrift: one connection per
// replica opened at creation and reused; no registry, pool or balancer. A
// connection that fails in the transport is reopened on its next turn.
// Not thread-safe (one per thread).
class PlainPrimeWorker final : public LoadWorker {
 public:
  // kUnavailable when a replica cannot be reached; kInvalidArgument for an
  // empty list.
  static Result<std::unique_ptr<LoadWorker>> Create(const std::vector<Endpoint>& replicas,
                                                    const rpc::ClientOptions& options,
                                                    uint64_t seed);
  ~PlainPrimeWorker() override;
  CallOutcome Call() override;

 private:
  struct Replica;
  PlainPrimeWorker(rpc::ClientOptions options, uint64_t seed);

  const rpc::ClientOptions options_;
  Payload payload_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  size_t next_ = 0;
};

// Calls the registry directly with plain Thrift over one connection opened
// at creation: lookup(service) or ping(). A connection that fails in the
// transport is counted as an error and reopened on the next call.
// Not thread-safe (one per thread).
class PlainRegistryWorker final : public LoadWorker {
 public:
  enum class Op { kLookup, kPing };
  static Result<std::unique_ptr<LoadWorker>> Create(const Endpoint& registry,
                                                    const rpc::ClientOptions& options,
                                                    Op op, std::string service);
  ~PlainRegistryWorker() override;
  CallOutcome Call() override;

 private:
  struct Connection;
  PlainRegistryWorker(Endpoint registry, rpc::ClientOptions options, Op op,
                      std::string service);
  Status Connect();

  const Endpoint registry_;
  const rpc::ClientOptions options_;
  const Op op_;
  const std::string service_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace beacon::bench
