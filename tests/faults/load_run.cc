#include "load_run.h"

#include <chrono>
#include <random>

#include "client/session.h"
#include "primes/miller_rabin.h"

namespace beacon::faults {

LoadRunOptions StandardLoad(int registry_port, int64_t poll_id,
                            const std::vector<std::string>& options) {
  return StandardLoad({Endpoint{"127.0.0.1", registry_port}}, poll_id, options);
}

LoadRunOptions StandardLoad(std::vector<Endpoint> registries, int64_t poll_id,
                            const std::vector<std::string>& options) {
  LoadRunOptions o;
  o.registries = std::move(registries);
  o.sessions = 8;
  o.poll_id = poll_id;
  o.options = options;
  return o;
}
namespace {

constexpr size_t kMaxSamples = 20;
constexpr int kRepeatEvery = 4;  // every 4th vote repeats an earlier one
// A run ends by Stop() or its per-session call bound; this bounds it in time.
constexpr double kMaxRunSeconds = 600;

}  // namespace

// One session's calls: isPrime and castVote in turn, every answer checked,
// every fourth vote a repeat of one of its earlier ones.
class LoadRun::Worker final : public client::LoadWorker {
 public:
  Worker(LoadRun& run, int index, std::unique_ptr<client::Session> session)
      : run_(run),
        index_(index),
        session_(std::move(session)),
        rng_(static_cast<uint64_t>(index) * 7919 + 17) {}

  client::CallOutcome Call() override {
    const auto start = std::chrono::steady_clock::now();
    client::CallOutcome outcome =
        (calls_++ % 2 == 0 || !run_.options_.votes) ? Prime() : Vote();
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
    int64_t longest = run_.max_call_us_.load();
    while (us > longest && !run_.max_call_us_.compare_exchange_weak(longest, us)) {
    }
    return outcome;
  }
  int64_t Retries() const override { return session_->retries(); }
  std::map<std::string, int64_t> Counters() const override {
    return {{"hedges_sent", session_->failover().hedges_sent()},
            {"hedges_won", session_->failover().hedges_won()}};
  }

 private:
  client::CallOutcome Prime() {
    const uint64_t n = 1'000'000'000ULL + rng_() % 1'000'000ULL;
    auto reply = session_->IsPrime(static_cast<int64_t>(n));
    if (!reply.ok()) {
      run_.Record("isPrime(" + std::to_string(n) + "): " + reply.status().ToString(),
                  true);
      return {"prime", reply.status(), ""};
    }
    if (reply->is_prime != primes::IsPrime(n)) {
      run_.Record("isPrime(" + std::to_string(n) + ") answered " +
                      (reply->is_prime ? "true" : "false") + " by " + reply->served_by,
                  false);
    }
    return {"prime", Status::Ok(), reply->served_by};
  }

  client::CallOutcome Vote() {
    AckedVote vote;
    const AckedVote* earlier = nullptr;
    if (votes_cast_ % kRepeatEvery == kRepeatEvery - 1 && !mine_.empty()) {
      earlier = &mine_[rng_() % mine_.size()];
      vote.voter_id = earlier->voter_id;
      vote.option = earlier->option;
    } else {
      vote.voter_id = run_.options_.voter_prefix + "-" + std::to_string(index_) + "-" +
                      std::to_string(votes_cast_);
      vote.option = run_.options_.options[rng_() % run_.options_.options.size()];
    }
    ++votes_cast_;
    auto receipt = session_->CastVote(run_.options_.poll_id, vote.voter_id, vote.option);
    if (!receipt.ok()) {
      run_.Record("castVote(" + vote.voter_id + "): " + receipt.status().ToString(),
                  true);
      return {"vote", receipt.status(), ""};
    }
    vote.vote_id = receipt->vote_id;
    vote.repeated = receipt->repeated;
    vote.served_by = receipt->served_by;
    if (receipt->voter_id != vote.voter_id || receipt->option != vote.option ||
        (earlier != nullptr &&
         (receipt->vote_id != earlier->vote_id || !receipt->repeated))) {
      run_.Record("castVote(" + vote.voter_id + ", " + vote.option + ") got vote " +
                      std::to_string(receipt->vote_id) + " for " + receipt->voter_id +
                      "/" + receipt->option + (receipt->repeated ? " (repeated)" : ""),
                  false);
    }
    run_.Acknowledged(vote);
    mine_.push_back(std::move(vote));  // `earlier` is not used past this point
    return {"vote", Status::Ok(), receipt->served_by};
  }

  LoadRun& run_;
  const int index_;
  std::unique_ptr<client::Session> session_;
  std::mt19937_64 rng_;
  std::vector<AckedVote> mine_;
  int64_t calls_ = 0;
  int64_t votes_cast_ = 0;
};

LoadRun::LoadRun(LoadRunOptions options) : options_(std::move(options)) {
  client::SessionOptions session_options;
  session_options.registries = options_.registries;
  session_options.timeout_ms = options_.call_timeout_ms;
  session_options.balancer = options_.balancer;
  session_options.hedge = options_.hedge;
  engine_ = std::make_unique<client::LoadEngine>(
      options_.sessions,
      [this, session_options](int index) -> Result<std::unique_ptr<client::LoadWorker>> {
        auto session = client::Session::Create(session_options);
        if (!session.ok()) {
          Record("session " + std::to_string(index) + ": " + session.status().ToString(),
                 true);
          return session.status();
        }
        return std::unique_ptr<client::LoadWorker>(
            new Worker(*this, index, std::move(session).value()));
      },
      options_.max_calls_per_session);
  runner_ = std::thread([this] {
    client::LoadPhase phase;
    phase.seconds = kMaxRunSeconds;
    const client::LoadPhaseResult result = engine_->Run(phase);
    MutexLock lock(mu_);
    served_by_ = result.tally.per_replica;
    counters_ = result.tally.counters;
  });
}

LoadRun::~LoadRun() { Stop(); }

void LoadRun::Stop() {
  if (stopped_) return;
  stopped_ = true;
  engine_->Stop();
  runner_.join();
}

bool LoadRun::WaitForCalls(int64_t n, int timeout_ms) const {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (calls() < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

int64_t LoadRun::calls() const { return engine_->calls_completed(); }

int64_t LoadRun::retries() const { return engine_->retries(); }

int64_t LoadRun::hedges_sent() const {
  MutexLock lock(mu_);
  auto it = counters_.find("hedges_sent");
  return it == counters_.end() ? 0 : it->second;
}

int64_t LoadRun::hedges_won() const {
  MutexLock lock(mu_);
  auto it = counters_.find("hedges_won");
  return it == counters_.end() ? 0 : it->second;
}

std::vector<std::string> LoadRun::samples() const {
  MutexLock lock(mu_);
  return samples_;
}

std::map<std::string, int64_t> LoadRun::served_by() const {
  MutexLock lock(mu_);
  return served_by_;
}

void LoadRun::Record(std::string message, bool failure) {
  (failure ? failures_ : inconsistencies_).fetch_add(1);
  MutexLock lock(mu_);
  if (samples_.size() < kMaxSamples) {
    samples_.push_back((failure ? "failed: " : "inconsistent: ") + std::move(message));
  }
}

void LoadRun::Acknowledged(const AckedVote& vote) {
  MutexLock lock(mu_);
  votes_.push_back(vote);
}

std::map<std::string, std::string> AcknowledgedOptions(
    const std::vector<AckedVote>& votes, std::string* error) {
  std::map<std::string, std::string> option_of;
  std::map<std::string, int64_t> vote_id_of;
  std::map<int64_t, std::string> voter_of;
  for (const auto& v : votes) {
    auto [option, new_voter] = option_of.emplace(v.voter_id, v.option);
    auto [id, unused] = vote_id_of.emplace(v.voter_id, v.vote_id);
    (void)unused;
    if (!new_voter && (option->second != v.option || id->second != v.vote_id)) {
      *error = "voter " + v.voter_id + " has receipts for vote " +
               std::to_string(id->second) + " and vote " + std::to_string(v.vote_id);
      return {};
    }
    auto [holder, new_id] = voter_of.emplace(v.vote_id, v.voter_id);
    if (!new_id && holder->second != v.voter_id) {
      *error = "vote " + std::to_string(v.vote_id) + " acknowledged to both " +
               holder->second + " and " + v.voter_id;
      return {};
    }
  }
  return option_of;
}

}  // namespace beacon::faults
