#include "registry/event_log.h"

#include <algorithm>
#include <cassert>

namespace beacon::registry {

EventLog::EventLog(const Clock& clock, EventLogOptions options)
    : clock_(clock), options_(options) {
  assert(options_.max_events >= 1 && options_.max_remembered_expiries >= 1);
}

EventLog::~EventLog() {
  MutexLock lock(mu_);
  assert(waiters_ == 0);
}

void EventLog::OnLeaseEvent(const LeaseEvent& event) {
  {
    MutexLock lock(mu_);
    const int64_t seq = ++last_seq_;
    if (event.kind != LeaseEventKind::kHeartbeat) {
      const int64_t now = clock_.NowMicros();
      const std::string key = event.service + "/" + event.instance.id;
      RegistryEvent kept;
      kept.seq = seq;
      kept.at_micros = now;
      kept.kind = LeaseEventKindName(event.kind);
      kept.service = event.service;
      kept.instance_id = event.instance.id;
      kept.address = event.instance.host + ":" + std::to_string(event.instance.port);
      kept.reason = event.reason;
      if (event.kind == LeaseEventKind::kExpired) {
        RememberExpiryLocked(key, now);
      } else if (event.kind == LeaseEventKind::kRegistered) {
        if (auto it = expired_at_.find(key); it != expired_at_.end()) {
          kept.kind = "renewed_after_expiry";
          kept.reason = "registered again " + std::to_string((now - it->second) / 1000) +
                        " ms after its lease expired";
          expired_at_.erase(it);  // its entry in expired_order_ is skipped later
        }
      }
      events_.push_back(std::move(kept));
      if (events_.size() > options_.max_events) events_.pop_front();
    }
  }
  changed_.NotifyAll();
}

void EventLog::RememberExpiryLocked(const std::string& key, int64_t at_micros) {
  expired_at_[key] = at_micros;
  expired_order_.emplace_back(key, at_micros);
  while (expired_order_.size() > options_.max_remembered_expiries) {
    const auto& [oldest, when] = expired_order_.front();
    // A later expiry of the same instance stays remembered.
    if (auto it = expired_at_.find(oldest);
        it != expired_at_.end() && it->second == when) {
      expired_at_.erase(it);
    }
    expired_order_.pop_front();
  }
}

int64_t EventLog::last_seq() const {
  MutexLock lock(mu_);
  return last_seq_;
}

std::pair<std::vector<RegistryEvent>, int64_t> EventLog::Since(int64_t after) const {
  MutexLock lock(mu_);
  std::vector<RegistryEvent> out;
  auto first =
      std::upper_bound(events_.begin(), events_.end(), after,
                       [](int64_t seq, const RegistryEvent& e) { return seq < e.seq; });
  out.assign(first, events_.end());
  return {std::move(out), last_seq_};
}

int64_t EventLog::WaitNewerThan(int64_t after, int64_t deadline_micros) {
  MutexLock lock(mu_);
  ++waiters_;
  mu_.WithUniqueLock([&](std::unique_lock<std::mutex>& held) {
    return clock_.WaitUntil(held, changed_.native(), deadline_micros, [&] {
      mu_.AssertHeld();
      return shut_down_ || last_seq_ > after;
    });
  });
  --waiters_;
  return last_seq_;
}

void EventLog::Shutdown() {
  {
    MutexLock lock(mu_);
    shut_down_ = true;
  }
  changed_.NotifyAll();
}

}  // namespace beacon::registry
