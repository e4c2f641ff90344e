#include "dashboard/registry_http_api.h"

#include <charconv>
#include <string_view>

#include "core/validation.h"
#include "dashboard/dashboard_json.h"
#include "dashboard/dashboard_page.h"
#include "metrics/exposition.h"

namespace beacon::dashboard {
namespace {

constexpr std::string_view kServicesPrefix = "/v1/services/";

http::HttpResponse JsonResponse(int status, const nlohmann::json& doc) {
  http::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = Dump(doc);
  return r;
}

http::HttpResponse JsonError(int status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}

// The query parameter `key` as an integer in [lo, hi]; `fallback` if absent.
Result<int64_t> IntParam(const http::HttpRequest& request, const std::string& key,
                         int64_t fallback, int64_t lo, int64_t hi) {
  auto it = request.query.find(key);
  if (it == request.query.end()) return fallback;
  int64_t value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi) {
    return InvalidArgument(key + " must be an integer " + std::to_string(lo) + ".." +
                           std::to_string(hi));
  }
  return value;
}

}  // namespace

RegistryHttpApi::RegistryHttpApi(registry::LeaseTable& table, registry::EventLog& events,
                                 metrics::RegistryMetrics& metrics, const Clock& clock,
                                 RegistryHttpApiOptions options)
    : table_(table),
      events_(events),
      metrics_(metrics),
      clock_(clock),
      options_(options) {}

http::HttpResponse RegistryHttpApi::Handle(const http::HttpRequest& request) {
  http::HttpResponse out;
  if (metrics::HandleMetricsRoutes(request, metrics_.collectables(), &out)) return out;
  if (request.method != "GET" && request.method != "HEAD") {
    out = http::TextResponse(405, "only GET and HEAD are served");
    out.headers.emplace_back("Allow", "GET, HEAD");
    return out;
  }
  if (request.path == "/" || request.path == "/index.html") {
    out.content_type = "text/html; charset=utf-8";
    out.body = DashboardPage();
    return out;
  }
  if (request.path == "/v1/services") {
    return JsonResponse(200, ServicesJson(table_.Detail(), metrics_.WatchersByService()));
  }
  if (request.path.compare(0, kServicesPrefix.size(), kServicesPrefix) == 0) {
    const std::string name = request.path.substr(kServicesPrefix.size());
    if (Status s = ValidateName("service name", name); !s.ok()) {
      return JsonError(400, s.message());
    }
    const registry::TableDetail table = table_.Detail();
    for (const auto& service : table.services) {
      if (service.service_name == name) {
        return JsonResponse(
            200, ServiceJson(service, table.now_micros, metrics_.WatchersByService()));
      }
    }
    return JsonError(404, "service " + QuoteForMessage(name) + " is not known");
  }
  if (request.path == "/v1/events") return Events(request);
  return http::TextResponse(404, "not found: try /, /v1/services, /v1/events, /metrics");
}

http::HttpResponse RegistryHttpApi::Events(const http::HttpRequest& request) {
  auto after = IntParam(request, "after", 0, 0, INT64_MAX);
  if (!after.ok()) return JsonError(400, after.status().message());
  auto wait_ms = IntParam(request, "wait_ms", 0, 0, options_.max_wait_ms);
  if (!wait_ms.ok()) return JsonError(400, wait_ms.status().message());

  int64_t since = *after;
  // A number from before a registry restart: start over from everything.
  if (since > events_.last_seq()) since = 0;
  if (*wait_ms > 0 && events_.last_seq() <= since) {
    if (long_polls_.fetch_add(1) >= options_.max_long_polls) {
      long_polls_.fetch_sub(1);
      http::HttpResponse busy = JsonError(503, "too many long polls waiting; retry");
      busy.headers.emplace_back("Retry-After", "1");
      return busy;
    }
    events_.WaitNewerThan(since, clock_.NowMicros() + *wait_ms * 1000);
    long_polls_.fetch_sub(1);
  }
  // Reading the table expires due leases (their events then reach the log),
  // so read it once before the events; read it again after them, so the
  // services are never older than the sequence number handed out.
  table_.Detail();
  auto [events, seq] = events_.Since(since);
  return JsonResponse(
      200, ChangesJson(seq, events, table_.Detail(), metrics_.WatchersByService()));
}

}  // namespace beacon::dashboard
