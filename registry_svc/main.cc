// registry_svc: Beacon's service registry. Wiring only: flags, the lease
// table, its sweeper, the Thrift server, and clean shutdown on SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/endpoint.h"
#include "dashboard/registry_http_api.h"
#include "held_watches.h"
#include "http/http_server.h"
#include "metrics/registry_metrics.h"
#include "program/drain.h"
#include "program/flags.h"
#include "program/logging.h"
#include "program/port_file.h"
#include "program/signals.h"
#include "registry/event_log.h"
#include "registry/lease_table.h"
#include "registry_handler.h"
#include "rpc/event_server.h"
#include "rpc/thrift_logging.h"
#include "rpc/thrift_server.h"

namespace po = boost::program_options;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;
constexpr int kDrainTimeoutMs = 5000;  // at shutdown, longest wait for calls in progress

}  // namespace

int main(int argc, char** argv) {
  using namespace beacon;
  program::BlockTerminationSignals();

  po::options_description desc(
      "registry_svc: Beacon's service registry (leases, lookups, watches over Thrift)\n\n"
      "Usage: registry_svc [options]\n\nOptions");
  std::string listen, log_level, token, port_file, http_listen, server_kind;
  int thread_stack_kb = 0, event_threads = 0;
  int64_t ttl_ms = 0;
  int idle_timeout_ms = 0, sweep_interval_ms = 0;
  int64_t max_connections = 0;
  size_t max_per_service = 0, max_total = 0, max_watchers = 0;
  desc.add_options()("help,h", "show this help and exit")(
      "listen", po::value(&listen)->default_value("0.0.0.0:9090"),
      "HOST:PORT to serve on (port 0 picks a free port)")(
      "lease-ttl-ms", po::value(&ttl_ms)->default_value(3000),
      "lease length granted to instances (ms)")(
      "log-level", po::value(&log_level)->default_value("info"),
      "trace, debug, info, warn, error or off")(
      "token", po::value(&token)->default_value(""),
      "shared registration token; when set, register/heartbeat/deregister must carry it")(
      "idle-timeout-ms", po::value(&idle_timeout_ms)->default_value(30000),
      "close connections silent this long")(
      "max-connections", po::value(&max_connections)->default_value(12000),
      "concurrent connections; more wait in the backlog (each one is a file "
      "descriptor: keep it below the open-file limit)")(
      "server", po::value(&server_kind)->default_value("event"),
      "event: epoll threads (--event-threads), waiting watches hold no thread; threaded: "
      "a thread "
      "per connection (a waiting watch holds its thread)")(
      "event-threads", po::value(&event_threads)->default_value(2),
      "epoll threads with --server event (1..64; each serves its share of the "
      "connections; more than the cores helps concurrent lookups when other "
      "processes take the cores, see README)")(
      "thread-stack-kb", po::value(&thread_stack_kb)->default_value(256),
      "stack of each connection thread with --server threaded (KiB, 64..8192)")(
      "max-instances-per-service", po::value(&max_per_service)->default_value(256),
      "live instances in one service")("max-instances",
                                       po::value(&max_total)->default_value(4096),
                                       "live instances in the whole registry")(
      "max-watchers", po::value(&max_watchers)->default_value(12000),
      "concurrent watch calls")(
      "sweep-interval-ms", po::value(&sweep_interval_ms)->default_value(100),
      "how often expired leases are swept (and watchers woken)")(
      "port-file", po::value(&port_file)->default_value(""),
      "write the port actually bound to this file once serving")(
      "http", po::value(&http_listen)->default_value(""),
      "HOST:PORT for the read-only HTTP side: live dashboard at /, JSON at "
      "/v1/services, Prometheus metrics at /metrics, /healthz (off when empty; port 0 "
      "picks a free port, logged)");

  if (auto exit_code =
          program::StartProgram("registry_svc", argc, argv, desc, log_level)) {
    return *exit_code;
  }
  rpc::RouteThriftOutputToDebugLog();
  auto endpoint = ParseEndpoint("--listen", listen, /*allow_port_zero=*/true);
  if (!endpoint.ok()) {
    std::cerr << "error: " << endpoint.status().message() << "\n";
    return kExitUsage;
  }
  std::optional<Endpoint> http_endpoint;
  if (!http_listen.empty()) {
    auto parsed = ParseEndpoint("--http", http_listen, /*allow_port_zero=*/true);
    if (!parsed.ok()) {
      std::cerr << "error: " << parsed.status().message() << "\n";
      return kExitUsage;
    }
    http_endpoint = *parsed;
  }
  registry::LeaseTableOptions options;
  options.ttl_ms = ttl_ms;
  options.token = token;
  options.max_instances_per_service = max_per_service;
  options.max_instances_total = max_total;
  options.max_watchers = max_watchers;
  if (Status s = options.Validate(); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return kExitUsage;
  }
  if (server_kind != "event" && server_kind != "threaded") {
    std::cerr << "error: --server must be event or threaded, got " << server_kind << "\n";
    return kExitUsage;
  }
  if (event_threads < 1 || event_threads > 64) {
    std::cerr << "error: --event-threads must be 1..64, got " << event_threads << "\n";
    return kExitUsage;
  }
  if (thread_stack_kb < 64 || thread_stack_kb > 8192) {
    std::cerr << "error: --thread-stack-kb must be 64..8192, got " << thread_stack_kb
              << "\n";
    return kExitUsage;
  }
  if (sweep_interval_ms < 1 || idle_timeout_ms < 1 || max_connections < 1) {
    std::cerr << "error: --sweep-interval-ms, --idle-timeout-ms and --max-connections "
                 "must be >= 1\n";
    return kExitUsage;
  }

  // Versions start at the wall clock in microseconds so they keep growing
  // across registry restarts: a client's known version never matches a
  // restarted registry's by accident.
  registry::LeaseTable table(SystemClock::Instance(), options, WallClockMillis() * 1000);
  // The metrics hear of every change the table makes; so does the
  // registry's own change stream, which only the dashboard reads (--http).
  registry::EventLog events(SystemClock::Instance(), registry::EventLogOptions{});
  metrics::RegistryMetrics registry_metrics(table, SystemClock::Instance());
  table.AddObserver(&registry_metrics);
  if (http_endpoint) table.AddObserver(&events);

  // Both servers share the handler; they differ in who waits for a watch:
  // a thread per connection (threaded) or nobody (event: the watch is parked
  // in the table and answered from the change's thread).
  std::unique_ptr<rpc::ThriftServer> threaded_server;
  std::unique_ptr<rpc::EventServer> event_server;
  registry_svc::HeldWatches held_watches(table, registry_metrics);
  auto handlers =
      std::make_shared<registry_svc::RegistryHandlerFactory>(table, registry_metrics);
  if (server_kind == "threaded") {
    rpc::ServerOptions server_options;
    server_options.host = endpoint->host;
    server_options.port = endpoint->port;
    server_options.idle_timeout_ms = idle_timeout_ms;
    server_options.max_connections = max_connections;
    server_options.thread_stack_bytes = static_cast<size_t>(thread_stack_kb) * 1024;
    auto started = rpc::ThriftServer::Start(
        server_options, std::make_shared<idl::RegistryProcessorFactory>(handlers));
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return kExitFailure;
    }
    threaded_server = std::move(started).value();
  } else {
    rpc::EventServerOptions server_options;
    server_options.host = endpoint->host;
    server_options.port = endpoint->port;
    server_options.idle_timeout_ms = idle_timeout_ms;
    server_options.max_connections = max_connections;
    server_options.loop_threads = event_threads;
    auto started = rpc::EventServer::Start(
        server_options,
        [&table, &registry_metrics](const std::string& peer) {
          return std::make_shared<idl::RegistryProcessor>(
              std::make_shared<registry_svc::RegistryHandler>(table, registry_metrics,
                                                              peer));
        },
        "watch",
        [&held_watches](const std::string& peer, const std::string& request,
                        std::shared_ptr<rpc::HeldCall> call) {
          held_watches.Handle(peer, request, std::move(call));
        });
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return kExitFailure;
    }
    event_server = std::move(started).value();
  }
  const int port = threaded_server ? threaded_server->port() : event_server->port();
  spdlog::info("serving on {}:{} ({} server, lease ttl {} ms{})", endpoint->host, port,
               server_kind, ttl_ms, token.empty() ? "" : ", token required");
  const auto stop_server = [&](int drain_ms) {
    return threaded_server ? threaded_server->Stop(drain_ms)
                           : event_server->Stop(drain_ms);
  };

  // The HTTP side runs on threads of its own: nothing it does (a slow
  // client, a long poll) can hold up a Thrift call.
  dashboard::RegistryHttpApi http_api(table, events, registry_metrics,
                                      SystemClock::Instance());
  std::unique_ptr<http::HttpServer> http_server;
  if (http_endpoint) {
    http::HttpServerOptions http_options;
    http_options.host = http_endpoint->host;
    http_options.port = http_endpoint->port;
    http_options.handler_threads = 8;  // up to 6 long polls plus 2 for the rest
    auto started = http::HttpServer::Start(
        http_options,
        [&http_api](const http::HttpRequest& r) { return http_api.Handle(r); });
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      table.Shutdown();
      program::DrainOrExit(stop_server, kDrainTimeoutMs, kExitFailure);
      return kExitFailure;
    }
    http_server = std::move(started).value();
    spdlog::info("dashboard on http://{}:{}/ (metrics at /metrics)", http_endpoint->host,
                 http_server->port());
  }
  if (!port_file.empty()) {
    if (Status s = program::WritePortFile(port_file, port); !s.ok()) {
      spdlog::error("{}", s.message());
      table.Shutdown();
      program::DrainOrExit(stop_server, kDrainTimeoutMs, kExitFailure);
      return kExitFailure;
    }
  }

  // The sweeper removes expired leases promptly so watchers hear of them;
  // lookups never depend on it (the table expires lazily on every read).
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread sweeper([&] {
    std::unique_lock<std::mutex> lock(stop_mu);
    while (!stop_cv.wait_for(lock, std::chrono::milliseconds(sweep_interval_ms),
                             [&] { return stopping; })) {
      lock.unlock();
      for (const auto& e : table.SweepExpired()) {
        spdlog::info("lease expired: {}/{}", e.service_name, e.instance_id);
      }
      lock.lock();
    }
  });

  int sig = 0;
  while ((sig = program::WaitForTerminationSignal(1000)) == 0) {
  }
  spdlog::info("signal {} received: shutting down", sig);
  events.Shutdown();  // ends the dashboard's long polls
  if (http_server) http_server->Stop();
  table.Shutdown();  // wakes watchers so their connections can finish
  // Handlers still running after the drain use the lease table on this
  // stack: DrainOrExit then ends the process without unwinding it (exit 0:
  // the shutdown was asked for; leases are soft state replicas re-assert).
  program::DrainOrExit(stop_server, kDrainTimeoutMs, 0);
  {
    std::lock_guard<std::mutex> lock(stop_mu);
    stopping = true;
  }
  stop_cv.notify_all();
  sweeper.join();
  spdlog::info("stopped");
  return 0;
}
