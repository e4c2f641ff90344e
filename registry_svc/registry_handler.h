// RegistryHandler: the Thrift face of the LeaseTable. One handler per
// connection, so refused requests can be logged with the peer's address.
// It only translates: every rule lives in registry::LeaseTable.
#pragma once

#include <memory>
#include <string>

#include "Registry.h"
#include "metrics/registry_metrics.h"
#include "registry/lease_table.h"

namespace beacon::registry_svc {

// Safe for concurrent use across connections (the LeaseTable is).
class RegistryHandler final : public idl::RegistryIf {
 public:
  // `metrics` counts and times every call (and watchers per service).
  RegistryHandler(registry::LeaseTable& table, metrics::RegistryMetrics& metrics,
                  std::string peer);

  void registerInstance(idl::Lease& out, const std::string& service_name,
                        const idl::Instance& instance, const std::string& lease_id,
                        const std::string& token) override;
  void heartbeat(idl::Lease& out, const std::string& service_name,
                 const std::string& instance_id, const std::string& lease_id,
                 const std::string& token) override;
  void deregister(const std::string& service_name, const std::string& instance_id,
                  const std::string& lease_id, const std::string& token) override;
  void lookup(idl::Membership& out, const std::string& service_name) override;
  void watch(idl::Membership& out, const std::string& service_name, int64_t known_version,
             int32_t max_wait_ms) override;
  void listServices(std::vector<idl::ServiceSummary>& out) override;
  void stats(idl::RegistryStats& out) override;
  void ping() override {}

 private:
  // Logs a refused mutating request (peer, method, reason; never the token)
  // and throws the typed error.
  [[noreturn]] void Refuse(const char* method, const Status& status) const;
  // Counts the refusal's code on `call`, then throws the typed error.
  [[noreturn]] static void Throw(metrics::CallScope& call, const Status& status);

  registry::LeaseTable& table_;
  metrics::RegistryMetrics& metrics_;
  const std::string peer_;
};

// Creates a RegistryHandler per accepted connection.
class RegistryHandlerFactory final : public idl::RegistryIfFactory {
 public:
  RegistryHandlerFactory(registry::LeaseTable& table, metrics::RegistryMetrics& metrics)
      : table_(table), metrics_(metrics) {}
  idl::RegistryIf* getHandler(const apache::thrift::TConnectionInfo& info) override;
  void releaseHandler(idl::RegistryIf* handler) override { delete handler; }

 private:
  registry::LeaseTable& table_;
  metrics::RegistryMetrics& metrics_;
};

}  // namespace beacon::registry_svc
