// Scenario 2: castVote through the full system next to isPrime through the
// same system, and the raw rate of the same SQL transaction in-process.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "Voting.h"
#include "core/clock.h"
#include "scenario_support.h"
#include "scenarios.h"
#include "stats/latency_histogram.h"
#include "votes/open_vote_store.h"
#include "workers.h"

namespace beacon::bench {

namespace {

const std::vector<std::string> kOptions{"red", "green", "blue"};

// One thread casting distinct votes with the store the replicas use (same
// options, same transaction), for `seconds`: on a fresh SQLite file, or on a
// new poll in the replicas' PostgreSQL database.
Result<nlohmann::json> MeasureRawVotes(const std::string& dir,
                                       const std::string& postgres_uri,
                                       const std::string& run_id, int rep,
                                       double seconds) {
  const std::string path =
      postgres_uri.empty() ? dir + "/raw-votes-" + run_id + ".db" : postgres_uri;
  auto store = votes::OpenVoteStore(path);
  if (!store.ok()) return store.status();
  auto poll = (*store)->CreatePoll("raw rate", kOptions, "", WallClockMillis());
  if (!poll.ok()) return poll.status();
  stats::LatencyHistogram latency;
  int64_t ok = 0, failed = 0;
  using SteadyClock = std::chrono::steady_clock;
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  auto last = start;
  for (int64_t i = 0; i < 50'000'000; ++i) {
    const auto t0 = SteadyClock::now();
    if (t0 >= end) break;
    auto r = (*store)->CastVote(
        poll->poll_id, "raw-" + std::to_string(rep) + "-" + std::to_string(i),
        kOptions[static_cast<size_t>(i) % kOptions.size()], "raw", WallClockMillis());
    last = SteadyClock::now();
    latency.Record(
        std::chrono::duration_cast<std::chrono::microseconds>(last - t0).count());
    r.ok() ? ++ok : ++failed;
  }
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

  auto raw = MeasureRawVotes(options.scratch_dir, options.postgres_uri, run_id,
                             common.rep, options.raw_s);
  if (!raw.ok()) return raw.status();
  for (const auto& [name, value] : raw->items()) record["metrics"]["raw." + name] = value;
  for (int n : options.clients) {
    const std::string p = "c" + std::to_string(n);
    record["metrics"][p + ".vote_over_raw"] = Ratio(
        record["metrics"][p + ".vote.tput"].get<double>(), (*raw)["tput"].get<double>());
  }
  std::fprintf(stderr, "  voting rep %d: raw in-process %.0f tx/s\n", common.rep,
               (*raw)["tput"].get<double>());
  return record;
}

}  // namespace beacon::bench
