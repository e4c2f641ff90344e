// EventLog: the registry's own change stream, for the HTTP dashboard. It
// observes a LeaseTable, keeps the most recent membership events (bounded)
// and lets a reader wait, with a deadline, for anything newer than what it
// has seen; lease renewals count as changes too (so a view can refresh lease
// times) but are not kept as events.
//
// Sequence numbers: one counter starting at 0; every change observed (a
// heartbeat included) takes the next number, so the numbers of kept events
// grow but have gaps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "registry/lease_observer.h"

namespace beacon::registry {

struct RegistryEvent {
  int64_t seq = 0;
  int64_t at_micros = 0;  // on the log's Clock
  // "registered", "renewed_after_expiry" (registered again after its lease
  // had expired), "updated", "deregistered" or "expired".
  std::string kind;
  std::string service;
  std::string instance_id;
  std::string address;  // host:port
  std::string reason;   // for "expired", "deregistered", "renewed_after_expiry"
};

struct EventLogOptions {
  size_t max_events = 200;  // events kept; the oldest go first. >= 1
  // Expired instances remembered so that their next registration reads
  // "renewed_after_expiry". >= 1
  size_t max_remembered_expiries = 1024;
};

// Safe for concurrent use.
class EventLog final : public LeaseObserver {
 public:
  // `clock` must outlive the log (use the LeaseTable's).
  EventLog(const Clock& clock, EventLogOptions options);
  // No WaitNewerThan may be running (call Shutdown() and join the callers).
  ~EventLog() override;

  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  void OnLeaseEvent(const LeaseEvent& event) override;

  // The number of the latest change (0 before any).
  int64_t last_seq() const;

  // Kept events with seq > after, oldest first (at most max_events), and the
  // latest change's number to pass as `after` next time.
  std::pair<std::vector<RegistryEvent>, int64_t> Since(int64_t after) const;

  // Blocks until a change numbered > after exists, deadline_micros passes
  // on the Clock, or Shutdown() is called; returns last_seq() then.
  int64_t WaitNewerThan(int64_t after, int64_t deadline_micros);

  // Ends every wait now and makes later waits return at once.
  void Shutdown();

 private:
  void RememberExpiryLocked(const std::string& key, int64_t at_micros) REQUIRES(mu_);

  const Clock& clock_;
  const EventLogOptions options_;
  mutable Mutex mu_;
  CondVar changed_;
  int64_t last_seq_ GUARDED_BY(mu_) = 0;
  std::deque<RegistryEvent> events_ GUARDED_BY(mu_);
  // "service/instance id" -> when it expired; forgotten oldest first.
  std::map<std::string, int64_t> expired_at_ GUARDED_BY(mu_);
  std::deque<std::pair<std::string, int64_t>> expired_order_ GUARDED_BY(mu_);
  int waiters_ GUARDED_BY(mu_) = 0;
  bool shut_down_ GUARDED_BY(mu_) = false;
};

}  // namespace beacon::registry
