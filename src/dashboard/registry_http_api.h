// RegistryHttpApi: what the registry serves over HTTP (read-only), as a
// function from request to response, so it is tested without a network:
//   GET /                    the live dashboard (one self-contained page)
//   GET /v1/services         every service with its instances (ServicesJson)
//   GET /v1/services/NAME    one service (404 when never seen)
//   GET /v1/events?after=N&wait_ms=M
//                            long poll on the registry's change stream: waits up
//                            to M ms (0..max_wait_ms, default 0) for a change
//                            numbered > N, then returns ChangesJson (events > N
//                            and the current services). 503 + Retry-After when
//                            max_long_polls are already waiting.
//   GET /metrics, /healthz   Prometheus exposition, liveness
#pragma once

#include <atomic>

#include "core/clock.h"
#include "http/http_message.h"
#include "metrics/registry_metrics.h"
#include "registry/event_log.h"
#include "registry/lease_table.h"

namespace beacon::dashboard {

struct RegistryHttpApiOptions {
  int max_wait_ms = 25000;  // longest long poll
  int max_long_polls = 6;   // waiting at once; keep below the HTTP handler threads
};

// Safe for concurrent use. Everything passed in must outlive it.
class RegistryHttpApi {
 public:
  RegistryHttpApi(registry::LeaseTable& table, registry::EventLog& events,
                  metrics::RegistryMetrics& metrics, const Clock& clock,
                  RegistryHttpApiOptions options = {});

  http::HttpResponse Handle(const http::HttpRequest& request);

 private:
  http::HttpResponse Events(const http::HttpRequest& request);

  registry::LeaseTable& table_;
  registry::EventLog& events_;
  metrics::RegistryMetrics& metrics_;
  const Clock& clock_;
  const RegistryHttpApiOptions options_;
  std::atomic<int> long_polls_{0};
};

}  // namespace beacon::dashboard
