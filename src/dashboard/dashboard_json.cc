#include "dashboard/dashboard_json.h"

#include <algorithm>

namespace beacon::dashboard {
namespace {

int64_t MillisBetween(int64_t from_micros, int64_t to_micros) {
  return (to_micros - from_micros) / 1000;
}

}  // namespace

nlohmann::json ServiceJson(const registry::ServiceDetail& service, int64_t now_micros,
                           const WatcherCounts& watchers) {
  nlohmann::json instances = nlohmann::json::array();
  for (const registry::InstanceDetail& i : service.instances) {
    instances.push_back({
        {"id", i.info.id},
        {"host", i.info.host},
        {"port", i.info.port},
        {"address", i.info.host + ":" + std::to_string(i.info.port)},
        {"metadata", i.info.metadata},
        {"registered_ms_ago", MillisBetween(i.registered_at_micros, now_micros)},
        {"last_renewed_ms_ago", MillisBetween(i.renewed_at_micros, now_micros)},
        {"lease_left_ms",
         std::max<int64_t>(0, MillisBetween(now_micros, i.expires_at_micros))},
        {"heartbeats", i.heartbeats},
    });
  }
  auto w = watchers.find(service.service_name);
  return {{"name", service.service_name},
          {"version", service.version},
          {"watchers", w == watchers.end() ? 0 : w->second},
          {"instance_count", service.instances.size()},
          {"instances", std::move(instances)}};
}

nlohmann::json ServicesJson(const registry::TableDetail& table,
                            const WatcherCounts& watchers) {
  nlohmann::json services = nlohmann::json::array();
  for (const auto& s : table.services) {
    services.push_back(ServiceJson(s, table.now_micros, watchers));
  }
  return {{"ttl_ms", table.ttl_ms}, {"services", std::move(services)}};
}

nlohmann::json EventJson(const registry::RegistryEvent& event, int64_t now_micros) {
  return {{"seq", event.seq},
          {"kind", event.kind},
          {"service", event.service},
          {"instance_id", event.instance_id},
          {"address", event.address},
          {"reason", event.reason},
          {"ms_ago", std::max<int64_t>(0, MillisBetween(event.at_micros, now_micros))}};
}

nlohmann::json ChangesJson(int64_t seq,
                           const std::vector<registry::RegistryEvent>& events,
                           const registry::TableDetail& table,
                           const WatcherCounts& watchers) {
  nlohmann::json doc = ServicesJson(table, watchers);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) list.push_back(EventJson(e, table.now_micros));
  doc["seq"] = seq;
  doc["events"] = std::move(list);
  return doc;
}

std::string Dump(const nlohmann::json& doc) {
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace beacon::dashboard
