// SnapshotStore: where a client session keeps the last server list the
// registries gave it, so that a later session that reaches no registry can
// still start ("fail-static", like Dubbo's registry cache file). SnapshotFile
// is the on-disk implementation; tests use fakes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/membership.h"

namespace beacon::discovery {

// A list read back from the store.
struct SavedList {
  std::vector<InstanceInfo> instances;  // never empty
  int64_t age_ms = 0;                   // since a registry last gave it
};

// Best effort by contract: a store that cannot read or write says so in its
// own way (SnapshotFile warns once) and behaves as empty; callers never fail
// because of it. Implementations are safe for concurrent use.
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  // A registry just listed `instances` (non-empty; empty lists are ignored)
  // for `service`.
  virtual void Save(const std::string& service,
                    const std::vector<InstanceInfo>& instances) = 0;

  // The last list saved for `service`, or nullopt.
  virtual std::optional<SavedList> Load(const std::string& service) = 0;
};

}  // namespace beacon::discovery
