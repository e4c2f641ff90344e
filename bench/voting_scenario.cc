// Scenario 2: castVote through the full system next to isPrime through the
// same system, and the raw rate of the same store call in-process.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Voting.h"
#include "core/clock.h"
#include "core/mutex.h"
#include "scenario_support.h"
#include "scenarios.h"
#include "stats/latency_histogram.h"
#include "votes/open_vote_store.h"
#include "workers.h"

namespace beacon::bench {

namespace {

const std::vector<std::string> kOptions{"red", "green", "blue"};

// `threads` threads casting distinct votes with the store the replicas use
// (same options, same call), for `seconds`: on a fresh SQLite file, or on a
// new poll in the replicas' PostgreSQL database.
Result<nlohmann::json> MeasureRawVotes(const std::string& dir,
                                       const std::string& postgres_uri,
                                       const std::string& run_id, int rep, int threads,
                                       double seconds) {
  const std::string path = postgres_uri.empty() ? dir + "/raw-votes-" + run_id + "-" +
                                                      std::to_string(threads) + ".db"
                                                : postgres_uri;
  auto store = votes::OpenVoteStore(path);
  if (!store.ok()) return store.status();
  auto poll = (*store)->CreatePoll("raw rate", kOptions, "", WallClockMillis());
  if (!poll.ok()) return poll.status();
  using SteadyClock = std::chrono::steady_clock;
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  std::mutex mu;
  stats::LatencyHistogram latency;  // Guarded by mu
  int64_t ok = 0, failed = 0;       // Guarded by mu
  auto last = start;                // Guarded by mu
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      stats::LatencyHistogram mine;
      int64_t my_ok = 0, my_failed = 0;
      auto my_last = start;
      for (int64_t i = 0; i < 50'000'000; ++i) {
        const auto t0 = SteadyClock::now();
        if (t0 >= end) break;
        auto r = (*store)->CastVote(poll->poll_id,
                                    "raw-" + std::to_string(rep) + "-" +
                                        std::to_string(t) + "-" + std::to_string(i),
                                    kOptions[static_cast<size_t>(i) % kOptions.size()],
                                    "raw", WallClockMillis());
        my_last = SteadyClock::now();
        mine.Record(
            std::chrono::duration_cast<std::chrono::microseconds>(my_last - t0).count());
        r.ok() ? ++my_ok : ++my_failed;
      }
      std::lock_guard<std::mutex> lock(mu);
      latency.Merge(mine);
      ok += my_ok;
      failed += my_failed;
      last = std::max(last, my_last);
    });
  }
  for (std::thread& w : workers) w.join();
  store->reset();
  if (postgres_uri.empty()) {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path + suffix, ignored);
  }
  const double secs = std::chrono::duration<double>(last - start).count();
  return nlohmann::json{{"tput", secs > 0 ? ok / secs : 0.0},
                        {"ok", ok},
                        {"errors", failed},
                        {"p50_us", latency.Percentile(0.5)},
                        {"p99_us", latency.Percentile(0.99)},
                        {"max_us", latency.max()}};
}

// Watches an SQLite file's WAL from outside while the replicas write: its
// largest size, sampled every few milliseconds, and how many times it was
// rewound (the WAL header's checkpoint sequence number, bytes 12-15, grows
// by one each time a writer starts the WAL over after a complete
// checkpoint). Safe to stop from the thread that started it.
class WalWatcher {
 public:
  explicit WalWatcher(std::string db)
      : wal_(std::move(db) + "-wal"), first_rewinds_(ReadRewinds()) {
    thread_ = std::thread([this] {
      MutexLock lock(mu_);
      while (!stop_) {
        Sample();
        stopped_.WaitFor(mu_, std::chrono::milliseconds(5));
      }
    });
  }
  ~WalWatcher() { Stop(); }

  void Stop() {
    if (!thread_.joinable()) return;
    {
      MutexLock lock(mu_);
      stop_ = true;
    }
    stopped_.NotifyOne();
    thread_.join();
    Sample();
  }
  int64_t largest_bytes() const { return largest_; }
  // -1 when the header could not be read at the start or the end.
  int64_t rewinds() const {
    const int64_t last = ReadRewinds();
    return first_rewinds_ < 0 || last < 0 ? -1 : last - first_rewinds_;
  }

 private:
  void Sample() {
    std::error_code ec;
    const auto size = std::filesystem::file_size(wal_, ec);
    if (!ec) largest_ = std::max<int64_t>(largest_, static_cast<int64_t>(size));
  }
  int64_t ReadRewinds() const {
    std::ifstream in(wal_, std::ios::binary);
    unsigned char header[16];
    if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return -1;
    return (int64_t{header[12]} << 24) | (int64_t{header[13]} << 16) |
           (int64_t{header[14]} << 8) | int64_t{header[15]};
  }

  const std::string wal_;
  const int64_t first_rewinds_;
  Mutex mu_;
  CondVar stopped_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::atomic<int64_t> largest_{0};
  std::thread thread_;
};

}  // namespace

Result<nlohmann::json> RunVoting(const VotingOptions& options) {
  const Common& common = options.common;
  nlohmann::json record =
      NewRecord(options.postgres_uri.empty() ? "voting" : "voting_postgres", common.rep);
  const std::string run_id = RunId();
  client::SessionOptions session;
  session.registries = {common.registry};
  session.timeout_ms = BenchClientOptions().call_timeout_ms;

  int64_t poll_id = 0;
  {
    auto setup = client::Session::Create(session);
    if (!setup.ok()) return setup.status();
    auto created = (*setup)->CreatePoll("bench " + run_id, kOptions, "bench-" + run_id);
    if (!created.ok()) return created.status();
    poll_id = created->poll.poll_id;
  }
  std::unique_ptr<WalWatcher> wal;
  if (!options.sqlite_db.empty()) wal = std::make_unique<WalWatcher>(options.sqlite_db);

  for (size_t i = 0; i < options.clients.size(); ++i) {
    const int n = options.clients[i];
    const WorkerFactory make_prime = [&](int index) {
      return client::SessionLoadWorker::Create(session, client::SessionWorkload{},
                                               SeedFor(common.rep, index));
    };
    const WorkerFactory make_vote = [&](int index) {
      client::SessionWorkload w;
      w.prime_weight = 0;
      w.vote_weight = 1;
      w.poll_id = poll_id;
      w.options = kOptions;
      w.voter_prefix =
          "b" + run_id + "-c" + std::to_string(n) + "-t" + std::to_string(index);
      return client::SessionLoadWorker::Create(session, std::move(w),
                                               SeedFor(common.rep, index));
    };
    auto results = RunInterleaved(common.timing.Spec(n), {make_prime, make_vote},
                                  !FirstSideFirst(common.rep, i));
    const LoadResult& prime = results[0];
    const LoadResult& vote = results[1];
    const std::string p = "c" + std::to_string(n);
    AddLoadResult(p + ".prime", prime, &record);
    AddLoadResult(p + ".vote", vote, &record);
    record["metrics"][p + ".vote_over_prime_tput"] =
        Ratio(vote.Throughput(), prime.Throughput());
    record["metrics"][p + ".vote_over_prime_p999"] =
        Ratio(vote.latency.Percentile(0.999), prime.latency.Percentile(0.999));
    std::fprintf(stderr,
                 "  voting rep %d, %d clients: prime %.0f/s, vote %.0f/s p99.9 %lld us "
                 "max %lld us (%lld errors)\n",
                 common.rep, n, prime.Throughput(), vote.Throughput(),
                 static_cast<long long>(vote.latency.Percentile(0.999)),
                 static_cast<long long>(vote.latency.max()),
                 static_cast<long long>(vote.errors));
  }

  if (wal) {
    wal->Stop();
    record["metrics"]["wal.largest_bytes"] = wal->largest_bytes();
    record["metrics"]["wal.largest_mb"] = static_cast<double>(wal->largest_bytes()) / 1e6;
    if (wal->rewinds() >= 0) record["metrics"]["wal.rewinds"] = wal->rewinds();
    std::fprintf(stderr, "  voting rep %d: WAL largest %.1f MB, rewound %lld times\n",
                 common.rep, static_cast<double>(wal->largest_bytes()) / 1e6,
                 static_cast<long long>(wal->rewinds()));
  }

  auto raw = MeasureRawVotes(options.scratch_dir, options.postgres_uri, run_id,
                             common.rep, 1, options.raw_s);
  if (!raw.ok()) return raw.status();
  for (const auto& [name, value] : raw->items()) record["metrics"]["raw." + name] = value;
  auto raw_many = MeasureRawVotes(options.scratch_dir, options.postgres_uri, run_id,
                                  common.rep, options.raw_threads, options.raw_s);
  if (!raw_many.ok()) return raw_many.status();
  for (const auto& [name, value] : raw_many->items())
    record["metrics"]["raw_many." + name] = value;
  record["metrics"]["raw_many.threads"] = options.raw_threads;
  for (int n : options.clients) {
    const std::string p = "c" + std::to_string(n);
    record["metrics"][p + ".vote_over_raw"] = Ratio(
        record["metrics"][p + ".vote.tput"].get<double>(), (*raw)["tput"].get<double>());
  }
  std::fprintf(
      stderr,
      "  voting rep %d: raw in-process %.0f votes/s (1 thread), %.0f (%d threads)\n",
      common.rep, (*raw)["tput"].get<double>(), (*raw_many)["tput"].get<double>(),
      options.raw_threads);
  return record;
}

}  // namespace beacon::bench
