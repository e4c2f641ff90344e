#include "load_run.h"

#include <chrono>
#include <random>

#include "Prime.h"
#include "Voting.h"
#include "client/session.h"
#include "primes/miller_rabin.h"

namespace beacon::faults {

LoadRunOptions StandardLoad(int registry_port, int64_t poll_id,
                            const std::vector<std::string>& options) {
  LoadRunOptions o;
  o.registry = Endpoint{"127.0.0.1", registry_port};
  o.sessions = 8;
  o.poll_id = poll_id;
  o.options = options;
  return o;
}
namespace {

constexpr size_t kMaxSamples = 20;
constexpr int kRepeatEvery = 4;  // every 4th vote repeats an earlier one

}  // namespace

LoadRun::LoadRun(LoadRunOptions options)
    : options_(std::move(options)), retries_(static_cast<size_t>(options_.sessions)) {
  for (int i = 0; i < options_.sessions; ++i) {
    threads_.emplace_back([this, i] { RunSession(i); });
  }
}

LoadRun::~LoadRun() { Stop(); }

void LoadRun::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_ = true;
  for (auto& t : threads_) t.join();
}

bool LoadRun::WaitForCalls(int64_t n, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (calls_.load() < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

int64_t LoadRun::retries() const {
  int64_t total = 0;
  for (const auto& r : retries_) total += r.load();
  return total;
}

std::vector<std::string> LoadRun::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_;
}

std::map<std::string, int64_t> LoadRun::served_by() const {
  std::lock_guard<std::mutex> lock(mu_);
  return served_by_;
}

void LoadRun::Record(std::string message, bool failure) {
  (failure ? failures_ : inconsistencies_).fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  if (samples_.size() < kMaxSamples) {
    samples_.push_back((failure ? "failed: " : "inconsistent: ") + std::move(message));
  }
}

void LoadRun::RunSession(int index) {
  client::SessionOptions session_options;
  session_options.registry = options_.registry;
  session_options.timeout_ms = options_.call_timeout_ms;
  auto created = client::Session::Create(session_options);
  if (!created.ok()) {
    Record("session " + std::to_string(index) + ": " + created.status().ToString(), true);
    return;
  }
  client::Session& session = **created;
  std::mt19937_64 rng(static_cast<uint64_t>(index) * 7919 + 17);
  std::vector<AckedVote> mine;
  std::map<std::string, int64_t> served;
  int64_t votes_cast = 0;

  for (int64_t i = 0; i < options_.max_calls_per_session && !stop_.load(); ++i) {
    if (i % 2 == 0) {
      const uint64_t n = 1'000'000'000ULL + rng() % 1'000'000ULL;
      auto reply = session.Call<idl::PrimeReply, idl::PrimeError>(
          "prime", [&](rpc::ReplicaConnection& c) {
            idl::PrimeReply r;
            c.prime().isPrime(r, static_cast<int64_t>(n));
            return r;
          });
      if (!reply.ok()) {
        Record("isPrime(" + std::to_string(n) + "): " + reply.status().ToString(), true);
      } else {
        ++served[reply->served_by];
        if (reply->is_prime != primes::IsPrime(n)) {
          Record("isPrime(" + std::to_string(n) + ") answered " +
                     (reply->is_prime ? "true" : "false") + " by " + reply->served_by,
                 false);
        }
      }
    } else {
      AckedVote vote;
      const AckedVote* earlier = nullptr;
      if (votes_cast % kRepeatEvery == kRepeatEvery - 1 && !mine.empty()) {
        earlier = &mine[rng() % mine.size()];
        vote.voter_id = earlier->voter_id;
        vote.option = earlier->option;
      } else {
        vote.voter_id = options_.voter_prefix + "-" + std::to_string(index) + "-" +
                        std::to_string(votes_cast);
        vote.option = options_.options[rng() % options_.options.size()];
      }
      ++votes_cast;
      auto receipt = session.Call<idl::VoteReceipt, idl::VotingError>(
          "voting", [&](rpc::ReplicaConnection& c) {
            idl::VoteReceipt r;
            c.voting().castVote(r, options_.poll_id, vote.voter_id, vote.option);
            return r;
          });
      if (!receipt.ok()) {
        Record("castVote(" + vote.voter_id + "): " + receipt.status().ToString(), true);
      } else {
        ++served[receipt->served_by];
        vote.vote_id = receipt->vote_id;
        vote.repeated = receipt->repeated;
        vote.served_by = receipt->served_by;
        if (receipt->voter_id != vote.voter_id || receipt->option != vote.option ||
            (earlier != nullptr && (receipt->vote_id != earlier->vote_id || !receipt->repeated))) {
          Record("castVote(" + vote.voter_id + ", " + vote.option + ") got vote " +
                     std::to_string(receipt->vote_id) + " for " + receipt->voter_id + "/" +
                     receipt->option + (receipt->repeated ? " (repeated)" : ""),
                 false);
        }
        mine.push_back(std::move(vote));  // `earlier` is not used past this point
      }
    }
    calls_.fetch_add(1);
    retries_[static_cast<size_t>(index)].store(session.retries());
  }

  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, n] : served) served_by_[id] += n;
  votes_.insert(votes_.end(), mine.begin(), mine.end());
}

std::map<std::string, std::string> AcknowledgedOptions(const std::vector<AckedVote>& votes,
                                                       std::string* error) {
  std::map<std::string, std::string> option_of;
  std::map<std::string, int64_t> vote_id_of;
  std::map<int64_t, std::string> voter_of;
  for (const auto& v : votes) {
    auto [option, new_voter] = option_of.emplace(v.voter_id, v.option);
    auto [id, unused] = vote_id_of.emplace(v.voter_id, v.vote_id);
    (void)unused;
    if (!new_voter && (option->second != v.option || id->second != v.vote_id)) {
      *error = "voter " + v.voter_id + " has receipts for vote " + std::to_string(id->second) +
               " and vote " + std::to_string(v.vote_id);
      return {};
    }
    auto [holder, new_id] = voter_of.emplace(v.vote_id, v.voter_id);
    if (!new_id && holder->second != v.voter_id) {
      *error = "vote " + std::to_string(v.vote_id) + " acknowledged to both " + holder->second +
               " and " + v.voter_id;
      return {};
    }
  }
  return option_of;
}

}  // namespace beacon::faults
