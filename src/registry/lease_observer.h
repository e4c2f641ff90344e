// LeaseObserver: how the LeaseTable tells others (the event log behind the
// HTTP dashboard, the metrics) what it changed, without knowing who listens.
#pragma once

#include <string>

#include "core/membership.h"

namespace beacon::registry {

enum class LeaseEventKind {
  kRegistered,    // a new live instance (or one whose lease had expired)
  kUpdated,       // a live instance registered again with another address/metadata
  kHeartbeat,     // a lease renewed by heartbeat (no membership change)
  kDeregistered,  // removed by its lease holder
  kExpired,       // removed because its lease ran out
};

// Stable lower-case name of a kind ("registered", "updated", "heartbeat",
// "deregistered", "expired"), used in JSON and logs.
const char* LeaseEventKindName(LeaseEventKind kind);

// One change, valid only during the OnLeaseEvent call.
struct LeaseEvent {
  LeaseEventKind kind;
  const std::string& service;
  const InstanceInfo& instance;
  const std::string& reason;  // why it left (kDeregistered, kExpired); else empty
};

// Implementations are called with the table's lock held, in the order the
// changes happened: they must be quick, must not block or do I/O, and must
// never call back into the LeaseTable.
class LeaseObserver {
 public:
  virtual ~LeaseObserver() = default;
  virtual void OnLeaseEvent(const LeaseEvent& event) = 0;
};

}  // namespace beacon::registry
