// Exposition: Prometheus text format (prometheus-cpp's TextSerializer) for
// a metrics registry plus collectors that read state at scrape time, and
// the /metrics and /healthz routes both servers share.
#pragma once

#include <prometheus/collectable.h>

#include <string>
#include <vector>

#include "http/http_message.h"

namespace beacon::metrics {

// Collects every collectable (none may be null) and serializes them.
std::string ExpositionText(
    const std::vector<const prometheus::Collectable*>& collectables);

// "/metrics" -> the exposition (text/plain; version=0.0.4), "/healthz" ->
// "ok", anything else nullptr-like: returns false and leaves `out` alone.
// Methods other than GET/HEAD get 405.
bool HandleMetricsRoutes(const http::HttpRequest& request,
                         const std::vector<const prometheus::Collectable*>& collectables,
                         http::HttpResponse* out);

}  // namespace beacon::metrics
