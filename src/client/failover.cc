#include "client/failover.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace beacon::client {
namespace {

// PickFor's "no server to exclude besides the usual".
const std::string& NoServer() {
  static const std::string* const none = new std::string();
  return *none;
}

// The common pick's exclusion list: none.
const std::vector<std::string>& NoExclusions() {
  static const std::vector<std::string>* const none = new std::vector<std::string>();
  return *none;
}

}  // namespace

Failover::Failover(discovery::ServerCache& cache, const Clock& clock,
                   AttemptWaiter& waiter, FailoverOptions options)
    : cache_(cache),
      clock_(clock),
      budget_(options.hedge),
      options_(std::move(options)),
      waiter_(waiter) {}

Failover::~Failover() {
  // Every picked copy gets one outcome; these never answered in time to be
  // read, so they count as failed. Destroying them closes their connections.
  for (const Abandoned& a : draining_) cache_.ReportTransportFailure(a.copy.server);
}

int64_t Failover::hedge_delay_us(const std::string& service) const {
  auto it = delays_.find(service);
  return it != delays_.end() ? it->second.delay_us()
                             : HedgeDelay(options_.hedge).delay_us();
}

HedgeDelay& Failover::DelayFor(const std::string& service) {
  // A session mostly calls one service call after call: then a compare of
  // the name, not a map lookup.
  if (BEACON_LIKELY(last_delay_ != nullptr && last_delay_->first == service)) {
    return last_delay_->second;
  }
  auto it = delays_.find(service);
  if (it == delays_.end())
    it = delays_.emplace(service, HedgeDelay(options_.hedge)).first;
  last_delay_ = &*it;
  return it->second;
}

Failover::Copy Failover::StartCopy(ServerCall& call, discovery::PickedServer server,
                                   bool hedge, int64_t now_us) {
  Copy c;
  c.start_us = now_us;
  c.hedge = hedge;
  c.attempt = call.Start(*server, now_us);
  c.server = std::move(server);
  return c;
}

Result<discovery::PickedServer> Failover::PickFor(const std::string& service,
                                                  const std::string& also_exclude,
                                                  bool allow_busy, int64_t now_us) {
  if (BEACON_LIKELY(failed_.empty() && also_exclude.empty() && draining_.empty())) {
    return cache_.PickServer(service, NoExclusions(), now_us);
  }
  return PickExcluding(service, also_exclude, allow_busy, now_us);
}

Result<discovery::PickedServer> Failover::PickExcluding(const std::string& service,
                                                        const std::string& also_exclude,
                                                        bool allow_busy, int64_t now_us) {
  std::vector<std::string>& exclude = exclude_;
  exclude.assign(failed_.begin(), failed_.end());
  if (!also_exclude.empty()) exclude.push_back(also_exclude);
  const size_t own = exclude.size();
  for (const Abandoned& a : draining_) {
    if (a.service == service) exclude.push_back(a.copy.server->id);
  }
  Result<discovery::PickedServer> picked = cache_.PickServer(service, exclude, now_us);
  if (picked.ok() || exclude.size() == own || !allow_busy) return picked;
  // Every other server is busy with an abandoned copy: a busy one is still
  // better than none (the call gets its own connection).
  exclude.resize(own);
  return cache_.PickServer(service, exclude, now_us);
}

void Failover::Abandon(const std::string& service, Copy copy) {
  if (draining_.size() >= kMaxDraining) {
    cache_.ReportTransportFailure(draining_.front().copy.server);
    draining_.erase(draining_.begin());  // closes its connection
  }
  draining_.push_back(Abandoned{service, std::move(copy)});
}

void Failover::CollectAbandoned() {
  if (draining_.empty()) return;
  std::vector<Attempt*>& waiting = waiting_;
  while (!draining_.empty()) {
    waiting.clear();
    for (const Abandoned& a : draining_) waiting.push_back(a.copy.attempt.get());
    // Deadline 0: only copies whose answer is already here.
    const int ready = waiter_.WaitAny(waiting, 0);
    if (ready < 0) break;
    Abandoned done = std::move(draining_[static_cast<size_t>(ready)]);
    draining_.erase(draining_.begin() + ready);
    const AttemptOutcome out = done.copy.attempt->Finish();  // releases the connection
    if (out.transport_failure) {
      cache_.ReportTransportFailure(done.copy.server);
    } else {
      cache_.ReportSuccess(done.copy.server, clock_.NowMicros() - done.copy.start_us);
    }
  }
  const int64_t now = clock_.NowMicros();
  for (size_t i = 0; i < draining_.size();) {
    if (now - draining_[i].copy.start_us >= options_.call_timeout_us) {
      cache_.ReportTransportFailure(draining_[i].copy.server);
      draining_.erase(draining_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

Status Failover::Run(const std::string& service, ServerCall& call,
                     std::string* served_by) {
  if (served_by != nullptr) served_by->clear();
  if (BEACON_UNLIKELY(!draining_.empty())) CollectAbandoned();
  failed_.clear();
  // The call's one clock reading before its answer: the pick's down marks,
  // the copy's start (and its connection's stamp) and the first wait's bound
  // all use it.
  const int64_t start_us = clock_.NowMicros();
  Result<discovery::PickedServer> first =
      PickFor(service, NoServer(), /*allow_busy=*/true, start_us);
  if (BEACON_UNLIKELY(!first.ok())) return first.status();

  const bool hedging = options_.hedge.mode != HedgeMode::kOff;
  HedgeDelay* delay = nullptr;
  if (BEACON_LIKELY(hedging)) {
    delay = &DelayFor(service);
    budget_.OnCall();
  }
  Copy first_copy = StartCopy(call, std::move(first).value(), /*hedge=*/false, start_us);
  const int64_t call_deadline = start_us + options_.call_timeout_us;
  // With the budget empty no hedge can go out: read as an unhedged call.
  const bool hedge_pending = hedging && budget_.tokens() >= 1;
  const int64_t hedge_at = start_us + (hedging ? delay->delay_us() : 0);
  // The first wait: with a hedge to come, a read bounded at the hedge delay
  // (as cheap as an unhedged read; waiting on several copies comes after
  // it), else a plain read that the transport's call timeout bounds. The
  // bound is measured from the copy's start, read just before it was sent
  // (one clock read fewer per call): the wait may end later by the time
  // the send took, microseconds on an open connection, but the whole
  // connect time when the copy had to open one (bounded by the connect
  // timeout); the hedge then goes out that much later.
  std::optional<AttemptOutcome> read =
      hedge_pending
          ? first_copy.attempt->FinishWithin(std::min(hedge_at, call_deadline) - start_us)
          : first_copy.attempt->Finish();
  // The common call: the first copy answered (a reply or a typed error other
  // than busy) and nothing else is in flight. Everything else goes on in
  // Continue, out of line (the common call's code stays small: a client
  // thread that slept for its reply often wakes with cold caches, and pays
  // for every cache line of code it runs, docs/ARCHITECTURE.md).
  if (BEACON_LIKELY(read.has_value() && !read->transport_failure &&
                    read->status.code() != StatusCode::kUnavailable)) {
    const int64_t latency = clock_.NowMicros() - start_us;
    cache_.ReportSuccess(first_copy.server, latency);
    if (BEACON_LIKELY(delay != nullptr)) delay->Record(latency);
    if (BEACON_LIKELY(read->status.ok())) call.Accept(*first_copy.attempt);
    if (served_by != nullptr) *served_by = first_copy.server->id;
    return std::move(read->status);
  }
  return Continue(service, call, served_by, first_copy, read, delay, hedge_pending,
                  hedge_at, call_deadline);
}

Status Failover::Continue(const std::string& service, ServerCall& call,
                          std::string* served_by, Copy& first_copy,
                          std::optional<AttemptOutcome>& read, HedgeDelay* delay,
                          bool hedge_pending, int64_t hedge_at, int64_t call_deadline) {
  const bool hedging = delay != nullptr;
  std::vector<Copy>& flying = flying_;  // at most kMaxCopies
  flying.clear();
  flying.push_back(std::move(first_copy));
  bool first_read = true;  // `read` holds flying[0]'s first wait
  // The first round's copies wait their own call timeout; a busy retry's,
  // only until call_deadline.
  int64_t round_deadline = INT64_MAX;
  int copies = 1;  // in this round
  int busy_retries = 0;
  // A busy retry's round starts with a bounded first wait, as above.
  bool first_wait = false;
  // The latest transport failure; a copy that failed always sets it before
  // it is returned.
  Status last;
  // The latest kUnavailable answer ("nothing done, try later") and whether
  // this round got one.
  Status busy = Status::Ok();
  std::string busy_by;
  int64_t busy_latency_us = 0;
  bool round_busy = false;
  std::vector<Attempt*>& waiting = waiting_;

  while (true) {
    // One copy and no hedge to come: its Finish waits (the transport's call
    // timeout bounds it), exactly as an unhedged call.
    int ready = 0;
    if (first_read) {
      first_read = false;
      if (!read.has_value()) ready = -1;
    } else {
      read.reset();
      if (first_wait) {
        first_wait = false;
        const int64_t until = std::min(
            {hedge_at, flying[0].start_us + options_.call_timeout_us, round_deadline});
        read = flying[0].attempt->FinishWithin(until - flying[0].start_us);
        if (!read.has_value()) ready = -1;
      } else if (flying.size() > 1 || hedge_pending || round_deadline != INT64_MAX) {
        int64_t deadline = std::min(hedge_pending ? hedge_at : INT64_MAX, round_deadline);
        waiting.clear();
        for (const Copy& c : flying) {
          waiting.push_back(c.attempt.get());
          deadline = std::min(deadline, c.start_us + options_.call_timeout_us);
        }
        ready = waiter_.WaitAny(waiting, deadline);
      }
    }
    if (ready < 0) {
      const int64_t now = clock_.NowMicros();
      if (hedge_pending && now >= hedge_at) {
        hedge_pending = false;
        if (budget_.TryWithdraw()) {
          Result<discovery::PickedServer> other =
              PickFor(service, flying[0].server->id, /*allow_busy=*/false, now);
          if (other.ok()) {
            flying.push_back(
                StartCopy(call, std::move(other).value(), /*hedge=*/true, now));
            ++copies;
            ++hedges_sent_;
          } else {
            budget_.Refund();  // no other server: nothing was sent
          }
        }
        continue;
      }
      if (now >= round_deadline) {
        // A busy retry out of time. Its copies may still answer: drain them
        // (one outcome each) and give the busy answer that caused it.
        for (Copy& c : flying) Abandon(service, std::move(c));
        flying.clear();
        if (served_by != nullptr) *served_by = busy_by;
        return busy;
      }
      // Copies past the call timeout failed in the transport (closed).
      for (size_t i = 0; i < flying.size();) {
        if (now - flying[i].start_us < options_.call_timeout_us) {
          ++i;
          continue;
        }
        const std::string& id = flying[i].server->id;
        cache_.ReportTransportFailure(flying[i].server);
        last = Unavailable("server " + id + " failed: no answer within " +
                           std::to_string(options_.call_timeout_us / 1000) + " ms");
        failed_.push_back(id);
        flying.erase(flying.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else {
      Copy done = std::move(flying[static_cast<size_t>(ready)]);
      flying.erase(flying.begin() + ready);
      AttemptOutcome out = read.has_value() ? std::move(*read) : done.attempt->Finish();
      if (!out.transport_failure) {
        const int64_t latency = clock_.NowMicros() - done.start_us;
        cache_.ReportSuccess(done.server, latency);
        if (delay != nullptr) delay->Record(latency);
        if (out.status.code() != StatusCode::kUnavailable) {
          if (done.hedge) ++hedges_won_;
          for (Copy& other : flying) Abandon(service, std::move(other));
          flying.clear();
          if (out.status.ok()) call.Accept(*done.attempt);
          if (served_by != nullptr) *served_by = done.server->id;
          return std::move(out.status);
        }
        // "Not done, nothing changed, try later" (e.g. its database was
        // busy) is no answer while the other copy may still do the call, or
        // a busy retry may: returning it would tell the caller "failed"
        // about a call that then completes.
        busy = std::move(out.status);
        busy_by = done.server->id;
        busy_latency_us = latency;
        round_busy = true;
      } else {
        cache_.ReportTransportFailure(done.server);
        last =
            Unavailable("server " + done.server->id + " failed: " + out.status.message());
        failed_.push_back(done.server->id);
      }
    }
    if (!flying.empty()) continue;  // the other copy stands in for the retry
    if (round_busy) {
      // A server answered busy (the other copy, if any, did no better).
      // Retry after a backoff that gives the lock holder time, while the
      // deadline leaves room for an answer as slow as that one, or for
      // kBusyRetryRoomUs: a lock holder that resumes any moment then still
      // turns this call into a slow one, not a failed one.
      const int64_t backoff_us = kBusyBackoffUs << busy_retries;
      const int64_t now = clock_.NowMicros();
      if (busy_retries < kMaxBusyRetries &&
          now + backoff_us + std::min(busy_latency_us, kBusyRetryRoomUs) <
              call_deadline) {
        waiting.clear();
        (void)waiter_.WaitAny(waiting, now + backoff_us);  // the backoff
        const int64_t retry_us = clock_.NowMicros();
        Result<discovery::PickedServer> server =
            PickFor(service, busy_by, /*allow_busy=*/true, retry_us);
        if (!server.ok()) {
          server = PickFor(service, NoServer(), /*allow_busy=*/true, retry_us);
        }
        if (server.ok()) {
          ++busy_retries;
          ++busy_retries_;
          ++retries_;
          flying.push_back(
              StartCopy(call, std::move(server).value(), /*hedge=*/false, retry_us));
          copies = 1;
          round_busy = false;
          round_deadline = call_deadline;
          hedge_pending = first_wait = hedging && budget_.tokens() >= 1;
          hedge_at = flying[0].start_us + (hedging ? delay->delay_us() : 0);
          continue;
        }
      }
      if (served_by != nullptr) *served_by = busy_by;
      return busy;
    }
    if (last.ok()) last = Unavailable("no attempt made");  // defensive: never ok here
    if (copies >= kMaxCopies) return last;
    // The retry is the second copy: no hedge after it.
    hedge_pending = false;
    ++retries_;
    const int64_t retry_us = clock_.NowMicros();
    Result<discovery::PickedServer> server =
        PickFor(service, NoServer(), /*allow_busy=*/true, retry_us);
    // "No other server" reports the failure that caused the retry.
    if (!server.ok()) return last;
    flying.push_back(
        StartCopy(call, std::move(server).value(), /*hedge=*/false, retry_us));
    ++copies;
  }
}

}  // namespace beacon::client
