#include "registry_handler.h"

#include <spdlog/spdlog.h>
#include <thrift/transport/TSocket.h>

#include <optional>

#include "core/validation.h"
#include "rpc/membership_conversion.h"
#include "rpc/status_mapping.h"

namespace beacon::registry_svc {

namespace {
constexpr char kService[] = "registry";
}  // namespace

RegistryHandler::RegistryHandler(registry::LeaseTable& table,
                                 metrics::RegistryMetrics& metrics, std::string peer)
    : table_(table), metrics_(metrics), peer_(std::move(peer)) {}

void RegistryHandler::Throw(metrics::CallScope& call, const Status& status) {
  call.Fail(status.code());
  throw rpc::ToIdlError<idl::RegistryError>(status);
}

void RegistryHandler::Refuse(const char* method, const Status& status) const {
  if (status.code() == StatusCode::kUnknownInstance) {
    spdlog::info("{} from {}: {}", method, peer_, status.ToString());
  } else {
    spdlog::warn("refused {} from {}: {}", method, peer_, status.ToString());
  }
  throw rpc::ToIdlError<idl::RegistryError>(status);
}

void RegistryHandler::registerInstance(idl::Lease& out, const std::string& service_name,
                                       const idl::Instance& instance,
                                       const std::string& lease_id,
                                       const std::string& token) {
  metrics::CallScope call(metrics_.calls(), kService, "registerInstance");
  auto lease = table_.Register(service_name, rpc::FromIdl(instance), lease_id, token);
  if (!lease.ok()) {
    call.Fail(lease.status().code());
    Refuse("registerInstance", lease.status());
  }
  out.lease_id = lease->lease_id;
  out.ttl_ms = lease->ttl_ms;
}

void RegistryHandler::heartbeat(idl::Lease& out, const std::string& service_name,
                                const std::string& instance_id,
                                const std::string& lease_id, const std::string& token) {
  metrics::CallScope call(metrics_.calls(), kService, "heartbeat");
  auto lease = table_.Heartbeat(service_name, instance_id, lease_id, token);
  if (!lease.ok()) {
    call.Fail(lease.status().code());
    Refuse("heartbeat", lease.status());
  }
  out.lease_id = lease->lease_id;
  out.ttl_ms = lease->ttl_ms;
}

void RegistryHandler::deregister(const std::string& service_name,
                                 const std::string& instance_id,
                                 const std::string& lease_id, const std::string& token) {
  metrics::CallScope call(metrics_.calls(), kService, "deregister");
  Status s = table_.Deregister(service_name, instance_id, lease_id, token);
  if (!s.ok()) {
    call.Fail(s.code());
    Refuse("deregister", s);
  }
  spdlog::info("deregistered {}/{} (from {})", service_name, instance_id, peer_);
}

void RegistryHandler::lookup(idl::Membership& out, const std::string& service_name) {
  metrics::CallScope call(metrics_.calls(), kService, "lookup");
  metrics_.lookups().Increment();
  auto m = table_.Lookup(service_name);
  if (!m.ok()) Throw(call, m.status());
  out = rpc::ToIdl(*m);
}

void RegistryHandler::watch(idl::Membership& out, const std::string& service_name,
                            int64_t known_version, int32_t max_wait_ms) {
  metrics::CallScope call(metrics_.calls(), kService, "watch");
  metrics_.watches().Increment();
  // Counted per service only under a valid name (names become label values).
  std::optional<metrics::RegistryMetrics::WatcherScope> watcher;
  if (ValidateName("service_name", service_name).ok()) {
    watcher.emplace(metrics_, service_name);
  }
  auto m = table_.Watch(service_name, known_version, max_wait_ms);
  if (!m.ok()) Throw(call, m.status());
  out = rpc::ToIdl(*m);
}

void RegistryHandler::listServices(std::vector<idl::ServiceSummary>& out) {
  metrics::CallScope call(metrics_.calls(), kService, "listServices");
  for (const auto& s : table_.ListServices()) {
    idl::ServiceSummary summary;
    summary.service_name = s.service_name;
    summary.instance_count = s.instance_count;
    summary.version = s.version;
    out.push_back(std::move(summary));
  }
}

void RegistryHandler::stats(idl::RegistryStats& out) {
  metrics::CallScope call(metrics_.calls(), kService, "stats");
  out.__set_waiting_watchers(static_cast<int32_t>(table_.watcher_count()));
  out.__set_watchers_woken(static_cast<int64_t>(table_.watchers_woken()));
}

idl::RegistryIf* RegistryHandlerFactory::getHandler(
    const apache::thrift::TConnectionInfo& info) {
  // The numeric peer address: getOrigin() would do a reverse DNS lookup per
  // connection.
  std::string peer = "unknown";
  if (auto socket =
          std::dynamic_pointer_cast<apache::thrift::transport::TSocket>(info.transport)) {
    peer = socket->getPeerAddress() + ":" + std::to_string(socket->getPeerPort());
  }
  return new RegistryHandler(table_, metrics_, peer);
}

}  // namespace beacon::registry_svc
