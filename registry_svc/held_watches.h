// HeldWatches: the registry's `watch` on the event-driven server. A watch
// that must wait is parked in the LeaseTable without a thread; when its
// service changes, the table hands every parked watch the same snapshot and
// each reply is that snapshot's encoding (made once per version, shared, never
// copied per watcher) behind the call's own 17-byte message header. A watch whose
// max_wait_ms passes is taken back from the table and answered with the unchanged
// membership.
#pragma once

#include <memory>
#include <string>

#include "core/mutex.h"
#include "metrics/registry_metrics.h"
#include "registry/lease_table.h"
#include "rpc/event_server.h"

namespace beacon::registry_svc {

// Safe for concurrent use: Handle runs on the event loop, completions on the
// thread that changed the table.
class HeldWatches {
 public:
  // `table` must outlive every call handled (shut it down before the server).
  // `metrics` counts and times every watch like the threaded handler does
  // (a held watch is in flight, and its service's watcher, until answered).
  HeldWatches(registry::LeaseTable& table, metrics::RegistryMetrics& metrics)
      : table_(table), metrics_(metrics) {}

  // An EventServer::HeldMethod for "watch". A request that cannot be decoded
  // is answered with TApplicationException PROTOCOL_ERROR; a refused watch
  // with the IDL's RegistryError, like the threaded handler.
  void Handle(const std::string& peer, const std::string& request,
              std::shared_ptr<rpc::HeldCall> call);

 private:
  // Answers call `seqid` with `m`: its own header, the shared result bytes.
  void Reply(rpc::HeldCall& call, int32_t seqid, const registry::MembershipSnapshot& m);
  // The encoded watch result of `m`, made once per snapshot.
  std::shared_ptr<const std::string> EncodedResult(const registry::MembershipSnapshot& m);

  registry::LeaseTable& table_;
  metrics::RegistryMetrics& metrics_;
  Mutex mu_;
  // The encoded result of the latest snapshot replied (kept alive so its
  // address is not reused while cached).
  registry::MembershipSnapshot encoded_for_ GUARDED_BY(mu_);
  std::shared_ptr<const std::string> encoded_ GUARDED_BY(mu_);
};

}  // namespace beacon::registry_svc
