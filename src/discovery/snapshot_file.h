// SnapshotFile: a SnapshotStore in one JSON file per set of registries, under
// a cache directory (client_app: --cache-dir). Several client processes may
// share the file: each write replaces it whole, atomically (a temporary file
// renamed over it), so a reader sees an old file or a new one, never half of
// one. The file holds addresses only (id, host, port per instance), no
// secrets and no metadata.
//
// Reading is defensive: a file that is too big, unreadable, not JSON, of
// another format version, written for another set of registries, or holding
// an invalid name, host or port is ignored as a whole, with one warning, and
// overwritten by the next save.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.h"
#include "core/mutex.h"
#include "core/status.h"
#include "discovery/snapshot_store.h"

namespace beacon::discovery {

// Larger files are neither read nor written.
inline constexpr size_t kMaxSnapshotBytes = 1 << 20;

// What one snapshot file holds.
struct SnapshotContents {
  // The registries it was written for, in canonical form (sorted, joined by
  // ','; see RegistriesKey).
  std::string registries;
  struct Entry {
    int64_t saved_at_ms = 0;  // wall clock, ms since the Unix epoch
    std::vector<InstanceInfo> instances;
  };
  std::map<std::string, Entry> services;
};

// The canonical name of a set of registries: their addresses sorted and
// joined by ',' (order on the command line does not matter).
std::string RegistriesKey(const std::vector<Endpoint>& registries);

// "<dir>/servers-<16 hex digits of a hash of the key>.json".
std::string SnapshotPath(const std::string& dir, const std::string& registries_key);

// The file's text. Metadata is left out.
std::string EncodeSnapshot(const SnapshotContents& contents);

inline constexpr size_t kMaxSnapshotServices = 64;
inline constexpr size_t kMaxInstancesPerService = 4096;

// Parses and validates a file's text. kInvalidArgument (saying what is wrong)
// for malformed JSON, another format or version, a different registries key
// than `expected_registries`, more than kMaxSnapshotServices services or
// kMaxInstancesPerService instances in one, an invalid service name,
// instance id, host or port, or a service with no instance.
Result<SnapshotContents> DecodeSnapshot(const std::string& text,
                                        const std::string& expected_registries);

// The whole file, or nullopt when it (or its directory) does not exist.
// kResourceExhausted when it is larger than max_bytes; kUnavailable when it cannot be
// read.
Result<std::optional<std::string>> ReadSmallFile(const std::string& path,
                                                 size_t max_bytes);

// Writes `text` to a temporary file beside `path` and renames it over
// `path`, creating the directory (mode 0700) if needed. kUnavailable saying
// why on failure (the temporary file is removed).
Status WriteFileAtomically(const std::string& path, const std::string& text);

// Safe for concurrent use (one mutex around the in-memory copy and the file).
class SnapshotFile final : public SnapshotStore {
 public:
  using Warn = std::function<void(const std::string&)>;
  using WallClock = std::function<int64_t()>;  // ms since the Unix epoch

  // `warn` receives at most one message about reading and one about writing.
  SnapshotFile(std::string dir, std::string registries_key, Warn warn,
               WallClock wall_clock_ms = nullptr);

  // Writes the file when the list differs from the saved one or the saved
  // one is older than kRewriteAfterMs (so the age stays meaningful without a
  // write per watch round).
  void Save(const std::string& service,
            const std::vector<InstanceInfo>& instances) override;
  std::optional<SavedList> Load(const std::string& service) override;

  const std::string& path() const { return path_; }

  static constexpr int64_t kRewriteAfterMs = 60000;

 private:
  // Reads the file the first time anything is asked.
  void EnsureReadLocked() REQUIRES(mu_);

  const std::string path_;
  const std::string registries_key_;
  const Warn warn_;
  const WallClock wall_clock_ms_;

  Mutex mu_;  // held across the file's read and writes, never anything else
  bool read_ GUARDED_BY(mu_) = false;
  bool warned_write_ GUARDED_BY(mu_) = false;
  SnapshotContents contents_ GUARDED_BY(mu_);
};

}  // namespace beacon::discovery
