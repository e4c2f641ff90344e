#include "metrics/exposition.h"

#include <prometheus/text_serializer.h>

namespace beacon::metrics {

std::string ExpositionText(
    const std::vector<const prometheus::Collectable*>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const prometheus::Collectable* c : collectables) {
    std::vector<prometheus::MetricFamily> more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

bool HandleMetricsRoutes(const http::HttpRequest& request,
                         const std::vector<const prometheus::Collectable*>& collectables,
                         http::HttpResponse* out) {
  if (request.path != "/metrics" && request.path != "/healthz") return false;
  if (request.method != "GET" && request.method != "HEAD") {
    *out = http::TextResponse(405, "only GET and HEAD are served");
    out->headers.emplace_back("Allow", "GET, HEAD");
    return true;
  }
  if (request.path == "/healthz") {
    *out = http::TextResponse(200, "ok");
    return true;
  }
  out->status = 200;
  out->content_type = "text/plain; version=0.0.4; charset=utf-8";
  out->body = ExpositionText(collectables);
  return true;
}

}  // namespace beacon::metrics
