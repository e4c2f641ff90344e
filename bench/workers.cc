#include "workers.h"

#include <thrift/protocol/TMultiplexedProtocol.h>

#include "Prime.h"
#include "Registry.h"
#include "Voting.h"
#include "plain_connection.h"

namespace beacon::bench {

namespace {

CallOutcome Failed(const Status& status) { return CallOutcome{"call", status, ""}; }

// Runs a plain Thrift call (returning the replier's id) and classifies what
// it threw exactly as Beacon's own calls do (rpc::InvokeRpc).
template <class E, class F>
CallOutcome RunPlain(const Endpoint& endpoint, F&& call, bool* transport_failed) {
  rpc::RpcResult<std::string> r = rpc::InvokeRpc<std::string, E>(endpoint, call);
  *transport_failed = r.transport_failure || !r.connection_reusable;
  if (!r.result.ok()) return Failed(r.result.status());
  return CallOutcome{"call", Status::Ok(), std::move(r.result).value()};
}

}  // namespace

std::pair<int64_t, int64_t> Payload::NextRange(uint64_t width) {
  const auto lo = static_cast<int64_t>(rng_() % 1000000000ULL);
  return {lo, lo + static_cast<int64_t>(width) - 1};
}

// ---- PlainPrimeWorker ----

struct PlainPrimeWorker::Replica {
  Endpoint endpoint;
  std::unique_ptr<PlainConnection> connection;  // null after a transport failure
  std::unique_ptr<idl::PrimeClient> client;

  Status Connect(const rpc::ClientOptions& options) {
    client.reset();
    connection.reset();
    auto c = PlainConnection::Open(endpoint, options);
    if (!c.ok()) return c.status();
    connection = std::move(c).value();
    // The replica multiplexes "prime" and "voting" on one port: the same
    // wire format Beacon's pooled connections speak.
    client = std::make_unique<idl::PrimeClient>(
        std::make_shared<apache::thrift::protocol::TMultiplexedProtocol>(
            connection->protocol(), "prime"));
    return Status::Ok();
  }
};

PlainPrimeWorker::PlainPrimeWorker(rpc::ClientOptions options, uint64_t seed)
    : options_(options), payload_(seed) {}

PlainPrimeWorker::~PlainPrimeWorker() = default;

Result<std::unique_ptr<LoadWorker>> PlainPrimeWorker::Create(
    const std::vector<Endpoint>& replicas, const rpc::ClientOptions& options,
    uint64_t seed) {
  if (replicas.empty())
    return InvalidArgument("the plain client needs at least one replica");
  std::unique_ptr<PlainPrimeWorker> w(new PlainPrimeWorker(options, seed));
  for (const Endpoint& e : replicas) {
    auto r = std::make_unique<Replica>();
    r->endpoint = e;
    if (Status s = r->Connect(options); !s.ok()) return s;
    w->replicas_.push_back(std::move(r));
  }
  return std::unique_ptr<LoadWorker>(std::move(w));
}

CallOutcome PlainPrimeWorker::Call() {
  Replica& r = *replicas_[next_++ % replicas_.size()];
  const int64_t n = payload_.NextNumber();
  if (!r.client) {
    if (Status s = r.Connect(options_); !s.ok()) return Failed(s);
  }
  bool transport_failed = false;
  CallOutcome out = RunPlain<idl::PrimeError>(
      r.endpoint,
      [&] {
        idl::PrimeReply reply;
        r.client->isPrime(reply, n);
        return reply.served_by;
      },
      &transport_failed);
  if (transport_failed) {
    r.client.reset();
    r.connection.reset();
  }
  return out;
}

// ---- PlainRegistryWorker ----

struct PlainRegistryWorker::Connection {
  std::unique_ptr<PlainConnection> connection;
  std::unique_ptr<idl::RegistryClient> client;
};

PlainRegistryWorker::PlainRegistryWorker(Endpoint registry, rpc::ClientOptions options,
                                         Op op, std::string service)
    : registry_(std::move(registry)),
      options_(options),
      op_(op),
      service_(std::move(service)) {}

Status PlainRegistryWorker::Connect() {
  connection_.reset();
  auto c = PlainConnection::Open(registry_, options_);
  if (!c.ok()) return c.status();
  auto conn = std::make_unique<Connection>();
  conn->connection = std::move(c).value();
  conn->client = std::make_unique<idl::RegistryClient>(conn->connection->protocol());
  connection_ = std::move(conn);
  return Status::Ok();
}

PlainRegistryWorker::~PlainRegistryWorker() = default;

Result<std::unique_ptr<LoadWorker>> PlainRegistryWorker::Create(
    const Endpoint& registry, const rpc::ClientOptions& options, Op op,
    std::string service) {
  std::unique_ptr<PlainRegistryWorker> w(
      new PlainRegistryWorker(registry, options, op, std::move(service)));
  if (Status s = w->Connect(); !s.ok()) return s;
  return std::unique_ptr<LoadWorker>(std::move(w));
}

CallOutcome PlainRegistryWorker::Call() {
  if (!connection_) {
    if (Status s = Connect(); !s.ok()) return Failed(s);
  }
  bool transport_failed = false;
  CallOutcome out = RunPlain<idl::RegistryError>(
      registry_,
      [&] {
        if (op_ == Op::kLookup) {
          idl::Membership m;
          connection_->client->lookup(m, service_);
          return std::string("registry");
        }
        connection_->client->ping();
        return std::string("registry");
      },
      &transport_failed);
  if (transport_failed) connection_.reset();
  return out;
}

}  // namespace beacon::bench
