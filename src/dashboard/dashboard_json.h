// The registry's HTTP views as JSON documents, built from the LeaseTable's
// detail and the EventLog. Keys are stable (README, "HTTP views"); times are
// relative ("_ms_ago", "_left_ms") because the table's clock is monotonic.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "registry/event_log.h"
#include "registry/lease_table.h"

namespace beacon::dashboard {

// Watch calls in progress per service name.
using WatcherCounts = std::map<std::string, int64_t>;

// {"name", "version", "watchers", "instance_count", "instances": [{"id",
// "host", "port", "address", "metadata", "registered_ms_ago",
// "last_renewed_ms_ago", "lease_left_ms", "heartbeats"}]}
nlohmann::json ServiceJson(const registry::ServiceDetail& service, int64_t now_micros,
                           const WatcherCounts& watchers);

// {"ttl_ms", "services": [ServiceJson...]}, services sorted by name.
nlohmann::json ServicesJson(const registry::TableDetail& table,
                            const WatcherCounts& watchers);

// {"seq", "kind", "service", "instance_id", "address", "reason", "ms_ago"}
nlohmann::json EventJson(const registry::RegistryEvent& event, int64_t now_micros);

// ServicesJson plus {"seq": latest change, "events": [EventJson...] oldest first}.
nlohmann::json ChangesJson(int64_t seq,
                           const std::vector<registry::RegistryEvent>& events,
                           const registry::TableDetail& table,
                           const WatcherCounts& watchers);

// Serializes for the wire; invalid UTF-8 is replaced, never thrown on.
std::string Dump(const nlohmann::json& doc);

}  // namespace beacon::dashboard
