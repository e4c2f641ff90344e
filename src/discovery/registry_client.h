// RegistryClient: what the discovery cache needs from the registry. The Thrift
// implementation lives in rpc/ (ThriftRegistryClient); tests use fakes.
#pragma once

#include <string>

#include "core/membership.h"
#include "core/status.h"

namespace beacon::discovery {

// Implementations must be safe for concurrent use: the cache calls Lookup from
// caller threads while a background thread sits in Watch, and CancelWatches
// from yet another thread.
class RegistryClient {
 public:
  virtual ~RegistryClient() = default;

  // The live membership of `service`. kUnavailable when the registry cannot
  // be reached (message names the address); kInvalidArgument for a bad name.
  virtual Result<Membership> Lookup(const std::string& service) = 0;

  // Blocks until the membership version differs from known_version or
  // max_wait_ms passes (then returns the unchanged membership). Same errors
  // as Lookup.
  virtual Result<Membership> Watch(const std::string& service, int64_t known_version,
                                   int max_wait_ms) = 0;

  // Unblocks any Watch in progress, which then returns kUnavailable; later
  // calls (Watch included) still work. Used to stop background threads
  // promptly instead of waiting out max_wait_ms.
  virtual void CancelWatches() = 0;

  // The registry's address, for messages ("127.0.0.1:9090").
  virtual std::string Address() const = 0;
};

}  // namespace beacon::discovery
