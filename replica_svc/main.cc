// replica_svc: one replica offering the prime and voting services on one
// port. Wiring only: flags, the shared vote store, the Thrift server,
// registration, and the shutdown order (deregister, drain, close).
#include <spdlog/spdlog.h>
#include <thrift/processor/TMultiplexedProcessor.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/endpoint.h"
#include "core/validation.h"
#include "http/http_server.h"
#include "metered_handlers.h"
#include "metrics/exposition.h"
#include "metrics/replica_metrics.h"
#include "prime_handler.h"
#include "program/drain.h"
#include "program/flags.h"
#include "program/logging.h"
#include "program/port_file.h"
#include "program/signals.h"
#include "registration/registration_set.h"
#include "rpc/thrift_lease_client.h"
#include "rpc/thrift_logging.h"
#include "rpc/thrift_registry_client.h"
#include "rpc/thrift_server.h"
#include "votes/open_vote_store.h"
#include "votes/sqlite_vote_store.h"
#include "votes/voting_rules.h"
#include "voting_handler.h"

namespace po = boost::program_options;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

}  // namespace

int main(int argc, char** argv) {
  using namespace beacon;
  program::BlockTerminationSignals();

  po::options_description desc(
      "replica_svc: a Beacon replica serving the prime and voting services on one port;\n"
      "votes live in one shared database (an SQLite file or PostgreSQL), so any replica\n"
      "answers any call.\n\n"
      "Usage: replica_svc [options]\n\nOptions");
  std::string registry, listen, db, advertise, id, log_level, token, port_file,
      metrics_listen;
  int drain_timeout_ms = 0, deregister_grace_ms = 0, busy_timeout_ms = 0,
      idle_timeout_ms = 0;
  int64_t max_connections = 0, debug_delay_us = 0, debug_hold_commit_us = 0;
  bool writer_turn = true;
  desc.add_options()("help,h", "show this help and exit")(
      "registry", po::value(&registry)->default_value("127.0.0.1:9090"),
      "registry HOST:PORT, or several as HOST:PORT,HOST:PORT,...: the replica "
      "registers and heartbeats with every one, independently")(
      "listen", po::value(&listen)->default_value("0.0.0.0:9100"),
      "HOST:PORT to serve on (port 0 picks a free port)")(
      "db", po::value(&db)->default_value("beacon.db"),
      "database shared by all replicas: an SQLite file path, or a PostgreSQL URI "
      "postgresql://USER@HOST:PORT/DB (password from the URI, PGPASSWORD or ~/.pgpass; "
      "never logged)")("advertise", po::value(&advertise)->default_value(""),
                       "HOST[:PORT] clients should use (default: the listen address, "
                       "127.0.0.1 for 0.0.0.0)")(
      "id", po::value(&id)->default_value(""),
      "instance id (default: HOST-PORT of the advertised address)")(
      "log-level", po::value(&log_level)->default_value("info"),
      "trace, debug, info, warn, error or off")(
      "token", po::value(&token)->default_value(""),
      "registration token, when the registry requires one")(
      "busy-timeout-ms", po::value(&busy_timeout_ms)->default_value(2000),
      "longest wait for the database (SQLite: its write lock; PostgreSQL: a connection "
      "and the answer) before a call fails with UNAVAILABLE")(
      "drain-timeout-ms", po::value(&drain_timeout_ms)->default_value(5000),
      "at shutdown, longest wait for calls in progress")(
      "deregister-grace-ms", po::value(&deregister_grace_ms)->default_value(300),
      "at shutdown, keep serving this long after deregistering so clients hear of it "
      "first")("idle-timeout-ms", po::value(&idle_timeout_ms)->default_value(30000),
               "close connections silent this long")(
      "max-connections", po::value(&max_connections)->default_value(1024),
      "concurrent connections; more wait in the backlog")(
      "port-file", po::value(&port_file)->default_value(""),
      "write the port actually bound to this file once serving")(
      "metrics", po::value(&metrics_listen)->default_value(""),
      "HOST:PORT serving Prometheus metrics at /metrics and /healthz over HTTP (off "
      "when empty; port 0 picks a free port, logged)")(
      "writer-turn", po::value(&writer_turn)->default_value(true),
      "SQLite: replicas' writers wait their turn on a shared blocking lock in the file "
      "<db>-writer before SQLite's write lock, instead of only polling that lock "
      "(false: poll, for comparison)")(
      "debug-delay-us", po::value(&debug_delay_us)->default_value(0),
      "benchmarking aid: sleep this long (0..1000000 us) in every prime call, to play a "
      "slow replica")(
      "debug-hold-commit-us", po::value(&debug_hold_commit_us)->default_value(0),
      "test aid (SQLite): sleep this long (0..1000000 us) inside every write "
      "transaction before COMMIT, so a test can kill the replica inside a batch");

  if (auto exit_code =
          program::StartProgram("replica_svc", argc, argv, desc, log_level)) {
    return *exit_code;
  }
  rpc::RouteThriftOutputToDebugLog();
  auto registry_eps = ParseEndpointList("--registry", registry);
  auto listen_ep = ParseEndpoint("--listen", listen, /*allow_port_zero=*/true);
  auto advertised = ParseAdvertiseAddress("--advertise", advertise);
  for (const Status& s :
       {registry_eps.status(), listen_ep.status(), advertised.status()}) {
    if (!s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  std::optional<Endpoint> metrics_ep;
  if (!metrics_listen.empty()) {
    auto parsed = ParseEndpoint("--metrics", metrics_listen, /*allow_port_zero=*/true);
    if (!parsed.ok()) {
      std::cerr << "error: " << parsed.status().message() << "\n";
      return kExitUsage;
    }
    metrics_ep = *parsed;
  }
  if (debug_delay_us < 0 || debug_delay_us > 1000000) {
    std::cerr << "error: --debug-delay-us must be 0..1000000\n";
    return kExitUsage;
  }
  if (debug_hold_commit_us < 0 || debug_hold_commit_us > 1000000) {
    std::cerr << "error: --debug-hold-commit-us must be 0..1000000\n";
    return kExitUsage;
  }
  if (!id.empty()) {
    if (Status s = ValidateName("--id", id); !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return kExitUsage;
    }
  }

  // The database first: a replica that cannot store votes must never
  // register and attract traffic.
  votes::VoteStoreOptions store_options;
  store_options.deadline_ms = busy_timeout_ms;
  store_options.debug_hold_before_commit_us = static_cast<int>(debug_hold_commit_us);
  store_options.sqlite_writer_turn = writer_turn;
  auto store = votes::OpenVoteStore(db, store_options);
  if (!store.ok()) {
    spdlog::error("cannot open database: {}", store.status().message());
    return kExitFailure;
  }

  rpc::ServerOptions server_options;
  server_options.host = listen_ep->host;
  server_options.port = listen_ep->port;
  server_options.idle_timeout_ms = idle_timeout_ms;
  server_options.max_connections = max_connections;

  // Declared before the server so that on every path the server (and the
  // handlers it owns) goes first: the voting handler references the rules,
  // which reference the store.
  std::optional<votes::VotingRules> rules;
  metrics::ReplicaMetrics replica_metrics(SystemClock::Instance());
  if (auto* sqlite = dynamic_cast<votes::SqliteVoteStore*>(store->get())) {
    replica_metrics.SetStoreSource([sqlite]() -> std::optional<metrics::StoreCounters> {
      const votes::SqliteStats stats = sqlite->stats();
      return metrics::StoreCounters{stats.write_batches, stats.queued_writes,
                                    stats.turn_waits, stats.turn_failures};
    });
  }

  // The advertised address and the default id need the real port, known
  // only once bound (--listen ...:0). So: bind, derive the identity, then add
  // the handlers. Until then the multiplexer knows no service; nobody can be
  // calling yet, since the port is published only afterwards (port file,
  // registration).
  auto multiplexer = std::make_shared<apache::thrift::TMultiplexedProcessor>();
  auto started = rpc::ThriftServer::Start(
      server_options,
      std::make_shared<apache::thrift::TSingletonProcessorFactory>(multiplexer));
  if (!started.ok()) {
    spdlog::error("{}", started.status().message());
    return kExitFailure;
  }
  std::unique_ptr<rpc::ThriftServer> server = std::move(started).value();
  const auto stop_server = [&server](int drain_ms) { return server->Stop(drain_ms); };

  InstanceInfo self;
  {
    const Endpoint adv = advertised->Resolve(listen_ep->host, server->port());
    self.host = adv.host;
    self.port = adv.port;
    self.id = id.empty() ? DefaultInstanceId(adv) : id;
  }
  rules.emplace(**store, self.id);
  multiplexer->registerProcessor(
      "prime",
      std::make_shared<idl::PrimeProcessor>(
          std::make_shared<replica_svc::MeteredPrimeHandler>(
              std::make_shared<replica_svc::PrimeHandler>(self.id, debug_delay_us),
              replica_metrics)));
  multiplexer->registerProcessor(
      "voting", std::make_shared<idl::VotingProcessor>(
                    std::make_shared<replica_svc::MeteredVotingHandler>(
                        std::make_shared<replica_svc::VotingHandler>(*rules, self.id),
                        replica_metrics)));
  // Metrics over HTTP on threads of their own, apart from the Thrift side.
  std::unique_ptr<http::HttpServer> metrics_server;
  if (metrics_ep) {
    http::HttpServerOptions http_options;
    http_options.host = metrics_ep->host;
    http_options.port = metrics_ep->port;
    http_options.handler_threads = 2;
    auto started_http = http::HttpServer::Start(
        http_options, [&replica_metrics](const http::HttpRequest& r) {
          http::HttpResponse out;
          if (!metrics::HandleMetricsRoutes(r, replica_metrics.collectables(), &out)) {
            out = http::TextResponse(404, "not found: try /metrics or /healthz");
          }
          return out;
        });
    if (!started_http.ok()) {
      spdlog::error("{}", started_http.status().message());
      program::DrainOrExit(stop_server, drain_timeout_ms, kExitFailure);
      return kExitFailure;
    }
    metrics_server = std::move(started_http).value();
    spdlog::info("metrics on http://{}:{}/metrics", metrics_ep->host,
                 metrics_server->port());
  }
  spdlog::info("{} serving prime and voting on {}:{} (advertised {}:{}), database {}",
               self.id, listen_ep->host, server->port(), self.host, self.port,
               votes::DescribeVoteStore(db));
  if (!port_file.empty()) {
    if (Status s = program::WritePortFile(port_file, server->port()); !s.ok()) {
      spdlog::error("{}", s.message());
      program::DrainOrExit(stop_server, drain_timeout_ms, kExitFailure);
      return kExitFailure;
    }
  }

  // One client and one independent registration loop per registry.
  rpc::ClientOptions registry_options;
  registry_options.call_timeout_ms = 2000;
  std::vector<std::unique_ptr<rpc::ThriftRegistryClient>> registry_clients;
  std::vector<std::unique_ptr<rpc::ThriftLeaseClient>> lease_clients;
  std::vector<registration::LeaseClient*> leases;
  for (const Endpoint& ep : *registry_eps) {
    registry_clients.push_back(
        std::make_unique<rpc::ThriftRegistryClient>(ep, registry_options, token));
    lease_clients.push_back(
        std::make_unique<rpc::ThriftLeaseClient>(*registry_clients.back()));
    leases.push_back(lease_clients.back().get());
  }
  registration::RegistrationSet registrations(leases, self, {"prime", "voting"},
                                              SystemClock::Instance());
  replica_metrics.SetRegistrationSource([&registrations, &registry_eps] {
    metrics::RegistrationStates states;
    const std::vector<int> counts = registrations.registered_counts();
    for (size_t i = 0; i < counts.size() && i < registry_eps->size(); ++i) {
      states.emplace_back((*registry_eps)[i].ToString(), counts[i]);
    }
    return states;
  });
  registrations.Start();

  int sig = 0;
  while ((sig = program::WaitForTerminationSignal(1000)) == 0) {
  }
  spdlog::info("signal {} received: deregistering, then draining", sig);
  // Every registry is told in parallel; a hung one costs no more than the
  // grace period. Then keep answering for what is left of it: clients whose
  // cache still lists us hear of the deregistration (via their watch) before
  // we stop accepting.
  const auto grace_end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(deregister_grace_ms);
  const size_t told = registrations.Stop(deregister_grace_ms);
  if (told < registry_eps->size()) {
    spdlog::warn(
        "{} of {} registries not told within the grace period; their leases "
        "will expire",
        registry_eps->size() - told, registry_eps->size());
  }
  std::this_thread::sleep_until(grace_end);
  // A call still running after the drain uses the store and handlers on this
  // stack: DrainOrExit then leaves without unwinding it (exit 0: the shutdown
  // was asked for, and the store has every committed vote).
  program::DrainOrExit(stop_server, drain_timeout_ms, 0);
  if (metrics_server) metrics_server->Stop();
  server.reset();
  rules.reset();
  store->reset();  // closes the database
  spdlog::info("stopped");
  return 0;
}
