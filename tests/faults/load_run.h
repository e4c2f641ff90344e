// LoadRun: the steady traffic the fault tests inject faults under. Several
// in-process client Sessions (each with its own discovery cache, balancer,
// pool and retry-once failover, exactly as client_app uses them) call prime
// and vote on their own threads until stopped, and record every outcome:
// failed calls, wrong answers and every acknowledged vote receipt, so a test
// can compare the database with what clients were told.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "client/hedging.h"
#include "client/load_engine.h"
#include "core/endpoint.h"
#include "core/mutex.h"

namespace beacon::faults {

struct LoadRunOptions {
  std::vector<Endpoint> registries;
  int sessions = 8;
  // Every vote goes to this poll, choosing among its `options`.
  int64_t poll_id = 0;
  std::vector<std::string> options;
  // Hard bound on the calls one session makes, so a run ends even if nobody
  // stops it.
  int64_t max_calls_per_session = 20000;
  int call_timeout_ms = 5000;
  std::string voter_prefix = "voter";
  // False: isPrime only (no vote), e.g. where a stalled database would
  // hold up votes whatever the client does.
  bool votes = true;
  std::string balancer = "round-robin";
  client::HedgeOptions hedge;  // the default: auto
};

// A vote the servers acknowledged.
struct AckedVote {
  std::string voter_id;
  std::string option;
  int64_t vote_id = 0;
  bool repeated = false;
  std::string served_by;
};

// Options for 8 sessions (the fault tests' standard load) calling a
// registry on 127.0.0.1:registry_port and voting on poll_id among options.
LoadRunOptions StandardLoad(int registry_port, int64_t poll_id,
                            const std::vector<std::string>& options);
// The same over several registries.
LoadRunOptions StandardLoad(std::vector<Endpoint> registries, int64_t poll_id,
                            const std::vector<std::string>& options);

// Starts its sessions in the constructor. Every accessor is safe to call
// from the test thread while the run goes on, except votes(), which needs
// Stop() first.
class LoadRun {
 public:
  explicit LoadRun(LoadRunOptions options);
  ~LoadRun();  // Stop()

  LoadRun(const LoadRun&) = delete;
  LoadRun& operator=(const LoadRun&) = delete;

  // Lets every session finish its current call and joins them. Idempotent.
  void Stop();

  // Waits until at least `n` calls completed in total; false after timeout_ms.
  bool WaitForCalls(int64_t n, int timeout_ms) const;

  int64_t calls() const;
  // Calls whose final outcome (after the session's one retry) was an error,
  // plus sessions that could not be created.
  int64_t failures() const { return failures_.load(); }
  // Answers that contradict the truth: a wrong primality verdict, or a
  // repeated vote whose receipt names another vote id or option.
  int64_t inconsistencies() const { return inconsistencies_.load(); }
  // Calls that needed the session's failover retry.
  int64_t retries() const;
  // Hedges sent and hedges that answered first, over every session; filled
  // by Stop().
  int64_t hedges_sent() const;
  int64_t hedges_won() const;
  // The longest any one call took (retry included), in milliseconds.
  int64_t max_call_ms() const { return max_call_us_.load() / 1000; }
  // The first few failure and inconsistency messages, for the test's output.
  std::vector<std::string> samples() const;
  // Successful calls per replica id (served_by); filled by Stop().
  std::map<std::string, int64_t> served_by() const;
  // Every acknowledged vote, repeats included.
  // (Not checked by the thread-safety analysis: after Stop() no thread writes
  // votes_, which the analysis cannot know.)
  const std::vector<AckedVote>& votes() const NO_THREAD_SAFETY_ANALYSIS { return votes_; }

 private:
  class Worker;

  void Record(std::string message, bool failure);
  void Acknowledged(const AckedVote& vote);

  const LoadRunOptions options_;
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> inconsistencies_{0};
  std::atomic<int64_t> max_call_us_{0};
  // The sessions run on the client library's load engine (the one
  // `client_app load` and the benchmarks use), in one phase on runner_.
  std::unique_ptr<client::LoadEngine> engine_;
  std::thread runner_;

  mutable Mutex mu_;
  std::vector<std::string> samples_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> served_by_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> counters_ GUARDED_BY(mu_);  // the workers' Counters()
  std::vector<AckedVote> votes_ GUARDED_BY(mu_);             // until Stop()
  bool stopped_ = false;  // only the test thread calls Stop()
};

// A receipt check for a finished run: every voter's receipts name one vote
// id and one option, and no two voters share a vote id. Returns the
// acknowledged option per voter, or an error message in *error.
std::map<std::string, std::string> AcknowledgedOptions(
    const std::vector<AckedVote>& votes, std::string* error);

}  // namespace beacon::faults
