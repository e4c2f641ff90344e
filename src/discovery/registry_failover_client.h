// RegistryFailoverClient: one RegistryClient over several independent
// registries, for a client session. It uses one registry at a time for
// lookups and watches and moves to the next (in list order, wrapping) when
// that one fails at transport level, retrying the call there, so a registry
// that dies or hangs never fails the call that found out. Each registry
// numbers its memberships on its own, so the versions handed out are this
// client's: they change whenever the answering registry or its version does,
// and a Watch after a switch first asks the new registry with a Lookup.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "discovery/registry_client.h"

namespace beacon::discovery {

// Safe for concurrent use (like every RegistryClient).
class RegistryFailoverClient final : public RegistryClient {
 public:
  // kInvalidArgument for an empty list, a null element or start_index out of
  // range. `start_index` is the registry used first (a session passes a
  // random one, so sessions spread over the registries).
  static Result<std::unique_ptr<RegistryFailoverClient>> Create(
      std::vector<std::shared_ptr<RegistryClient>> registries, size_t start_index);

  // Tries the current registry, then each next one once. An error other than
  // kUnavailable (e.g. kInvalidArgument) is the registry's answer and is
  // returned at once. When every registry is unreachable: kUnavailable with
  // each registry's error (just the one error with a single registry).
  Result<Membership> Lookup(const std::string& service) override;

  // As Lookup, and `known_version` is a version this client returned. A
  // CancelWatches during the call returns kUnavailable without moving on.
  Result<Membership> Watch(const std::string& service, int64_t known_version,
                           int max_wait_ms) override;

  // Cancels the watches in progress on every registry.
  void CancelWatches() override;

  // Every registry, "a:1,b:2" (just "a:1" with one), for messages.
  std::string Address() const override;

  // The registry currently used.
  std::string CurrentAddress() const;
  // The registry that gave the latest answer about `service`; "" before any.
  std::string SourceOf(const std::string& service) const;
  // How often the client moved to the next registry.
  int64_t switches() const { return switches_.load(); }

 private:
  // Where a service's latest answer came from, and the version handed out.
  struct Versions {
    size_t registry = 0;
    int64_t registry_version = 0;
    int64_t local_version = 0;
  };

  RegistryFailoverClient(std::vector<std::shared_ptr<RegistryClient>> registries,
                         size_t start_index);

  // Renumbers `m` (answered by registry i) in this client's versions.
  Membership Translate(const std::string& service, size_t i, Membership m);
  // The version registry i knows for `service` if `known_version` is the
  // latest this client handed out for it and came from registry i.
  std::optional<int64_t> VersionOn(const std::string& service, size_t i,
                                   int64_t known_version) const;
  // Registry i failed at transport level: moves to the next one unless
  // someone already moved, and cancels i's watches so they move too.
  void MoveOff(size_t i);
  Status AllFailed(const std::vector<Status>& errors) const;

  const std::vector<std::shared_ptr<RegistryClient>> registries_;
  std::atomic<size_t> current_;
  std::atomic<int64_t> switches_{0};
  std::atomic<uint64_t> cancel_generation_{0};

  mutable Mutex mu_;
  std::map<std::string, Versions> versions_ GUARDED_BY(mu_);
};

}  // namespace beacon::discovery
