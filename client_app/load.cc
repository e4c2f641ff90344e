#include "load.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "Prime.h"
#include "Voting.h"
#include "stats/latency_histogram.h"

namespace beacon::client_app {

const char* const kLoadUsage =
    "load --clients C (--requests N | --duration S) [--mix prime=W,count=W,vote=W]\n"
    "     [--poll ID] [--count-width W]\n"
    "  C concurrent client sessions (1..1024), each with its own cache, balancer and\n"
    "  connections. N requests in total (1..100000000) or S seconds (at most 3600).\n"
    "  --mix weights the operations (default prime=1); votes use distinct voters on\n"
    "  poll ID, or on a poll created for the run.";

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

enum Op { kPrime = 0, kCount = 1, kVote = 2 };
const char* const kOpNames[] = {"prime", "count", "vote"};

template <class T>
Status ParseNumber(const std::string& flag, const std::string& text, T* out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument(flag + " needs a number, got '" + text + "'");
  }
  return Status::Ok();
}

// Per-thread tallies, merged at the end.
struct Tally {
  stats::LatencyHistogram latency;
  std::map<std::string, stats::LatencyHistogram> per_op;
  std::map<std::string, int64_t> errors;         // by status code name
  std::map<std::string, int64_t> per_replica;    // served_by -> calls
  int64_t ok = 0;
  int64_t votes_acknowledged = 0;
  int64_t retries = 0;
  int64_t registry_lookups = 0;
};

}  // namespace

Result<LoadOptions> ParseLoadArgs(const std::vector<std::string>& args) {
  LoadOptions o;
  bool have_clients = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) return InvalidArgument(flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--clients") {
      if (Status s = ParseNumber(flag, value, &o.clients); !s.ok()) return s;
      have_clients = true;
    } else if (flag == "--requests") {
      if (Status s = ParseNumber(flag, value, &o.requests); !s.ok()) return s;
      if (o.requests < 1 || o.requests > 100000000) {
        return InvalidArgument("--requests must be 1..100000000");
      }
    } else if (flag == "--duration") {
      if (Status s = ParseNumber(flag, value, &o.duration_s); !s.ok()) return s;
      if (!(o.duration_s > 0 && o.duration_s <= 3600)) {
        return InvalidArgument("--duration must be more than 0 and at most 3600 seconds");
      }
    } else if (flag == "--poll") {
      if (Status s = ParseNumber(flag, value, &o.poll_id); !s.ok()) return s;
      if (o.poll_id < 1) return InvalidArgument("--poll must be a poll id");
    } else if (flag == "--count-width") {
      if (Status s = ParseNumber(flag, value, &o.count_width); !s.ok()) return s;
      if (o.count_width < 1 || o.count_width > 10000000) {
        return InvalidArgument("--count-width must be 1..10000000");
      }
    } else if (flag == "--mix") {
      o.mix.clear();
      std::stringstream ss(value);
      std::string item;
      while (std::getline(ss, item, ',')) {
        const size_t eq = item.find('=');
        const std::string name = item.substr(0, eq);
        int weight = 1;
        if (eq != std::string::npos) {
          if (Status s = ParseNumber("--mix " + name, item.substr(eq + 1), &weight); !s.ok()) {
            return s;
          }
        }
        if (name != "prime" && name != "count" && name != "vote") {
          return InvalidArgument("--mix knows prime, count and vote, not '" + name + "'");
        }
        if (weight < 0 || weight > 1000) return InvalidArgument("--mix weights must be 0..1000");
        o.mix[name] = weight;
      }
      int total = 0;
      for (const auto& [name, w] : o.mix) total += w;
      if (total == 0) return InvalidArgument("--mix needs at least one positive weight");
    } else {
      return InvalidArgument("unknown load flag " + flag);
    }
  }
  if (!have_clients) return InvalidArgument("--clients is required");
  if (o.clients < 1 || o.clients > 1024) return InvalidArgument("--clients must be 1..1024");
  if ((o.requests > 0) == (o.duration_s > 0)) {
    return InvalidArgument("give exactly one of --requests and --duration");
  }
  return o;
}

CommandOutput RunLoad(const LoadOptions& options, const client::SessionOptions& session_options) {
  const bool votes = options.mix.count("vote") && options.mix.at("vote") > 0;
  int64_t poll_id = options.poll_id;
  std::vector<std::string> poll_options;
  std::string run_id;
  {
    std::mt19937_64 rng{std::random_device{}()};
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(rng() & 0xffffffff));
    run_id = buf;
  }
  if (votes) {
    auto setup = client::Session::Create(session_options);
    if (!setup.ok()) return Failure(setup.status());
    client::Session& s = **setup;
    if (poll_id == 0) {
      auto created = s.Call<idl::CreatePollReply, idl::VotingError>(
          "voting", [&](rpc::ReplicaConnection& c) {
            idl::CreatePollReply r;
            c.voting().createPoll(r, "load run " + run_id, {"red", "green", "blue"},
                                  "load-" + run_id);
            return r;
          });
      if (!created.ok()) return Failure(created.status());
      poll_id = created->poll.poll_id;
      poll_options = created->poll.options;
    } else {
      auto res = s.Call<idl::PollResults, idl::VotingError>("voting", [&](rpc::ReplicaConnection& c) {
        idl::PollResults r;
        c.voting().results(r, poll_id);
        return r;
      });
      if (!res.ok()) return Failure(res.status());
      poll_options = res->poll.options;
    }
  }

  std::vector<int> weights(3, 0);
  for (const auto& [name, w] : options.mix) {
    weights[name == "prime" ? kPrime : name == "count" ? kCount : kVote] = w;
  }
  std::atomic<int64_t> issued{0};
  std::atomic<int64_t> completed{0};
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  const auto deadline = options.duration_s > 0
                            ? start + std::chrono::microseconds(
                                          static_cast<int64_t>(options.duration_s * 1e6))
                            : Clock::time_point::max();
  std::mutex merge_mu;
  Tally total;
  std::vector<std::thread> threads;
  for (int c = 0; c < options.clients; ++c) {
    threads.emplace_back([&, c] {
      Tally t;
      auto created = client::Session::Create(session_options);
      if (!created.ok()) {
        std::lock_guard<std::mutex> lock(merge_mu);
        ++total.errors[StatusCodeName(created.status().code())];
        return;
      }
      client::Session& s = **created;
      std::mt19937_64 rng{std::random_device{}() ^ (static_cast<uint64_t>(c) << 32)};
      std::discrete_distribution<int> pick_op(weights.begin(), weights.end());
      int64_t vote_seq = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (options.requests > 0 && issued.fetch_add(1) >= options.requests) break;
        if (Clock::now() >= deadline) break;
        const int op = pick_op(rng);
        const auto t0 = Clock::now();
        Status status;
        std::string served_by;
        if (op == kPrime) {
          const auto n = static_cast<int64_t>(rng());
          auto r = s.Call<idl::PrimeReply, idl::PrimeError>("prime", [&](rpc::ReplicaConnection& cn) {
            idl::PrimeReply out;
            cn.prime().isPrime(out, n);
            return out;
          });
          status = r.status();
          if (r.ok()) served_by = r->served_by;
        } else if (op == kCount) {
          const int64_t lo = static_cast<int64_t>(rng() % 1000000000ULL);
          const int64_t hi = lo + static_cast<int64_t>(options.count_width) - 1;
          auto r = s.Call<idl::CountReply, idl::PrimeError>("prime", [&](rpc::ReplicaConnection& cn) {
            idl::CountReply out;
            cn.prime().countPrimes(out, lo, hi);
            return out;
          });
          status = r.status();
          if (r.ok()) served_by = r->served_by;
        } else {
          const std::string voter = "load-" + run_id + "-c" + std::to_string(c) + "-" +
                                    std::to_string(vote_seq++);
          const std::string& option = poll_options[rng() % poll_options.size()];
          auto r = s.Call<idl::VoteReceipt, idl::VotingError>("voting", [&](rpc::ReplicaConnection& cn) {
            idl::VoteReceipt out;
            cn.voting().castVote(out, poll_id, voter, option);
            return out;
          });
          status = r.status();
          if (r.ok()) {
            served_by = r->served_by;
            ++t.votes_acknowledged;
          }
        }
        const int64_t us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        if (status.ok()) {
          ++t.ok;
          t.latency.Record(us);
          t.per_op[kOpNames[op]].Record(us);
          ++t.per_replica[served_by];
        } else {
          ++t.errors[StatusCodeName(status.code())];
        }
        completed.fetch_add(1, std::memory_order_relaxed);
      }
      t.retries = s.retries();
      for (const auto& svc : s.cache().Services()) {
        t.registry_lookups += s.cache().View(svc).registry_lookups;
      }
      std::lock_guard<std::mutex> lock(merge_mu);
      total.latency.Merge(t.latency);
      for (const auto& [op, h] : t.per_op) total.per_op[op].Merge(h);
      for (const auto& [k, v] : t.errors) total.errors[k] += v;
      for (const auto& [k, v] : t.per_replica) total.per_replica[k] += v;
      total.ok += t.ok;
      total.votes_acknowledged += t.votes_acknowledged;
      total.retries += t.retries;
      total.registry_lookups += t.registry_lookups;
    });
  }
  std::thread progress;
  std::atomic<bool> done{false};
  if (options.progress) {
    progress = std::thread([&] {
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        const int64_t n = completed.load();
        std::fprintf(stderr, "\r%lld calls, %.0f/s   ", static_cast<long long>(n),
                     secs > 0 ? n / secs : 0.0);
      }
      std::fprintf(stderr, "\r\033[K");
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  if (progress.joinable()) progress.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();

  int64_t failed = 0;
  for (const auto& [k, v] : total.errors) failed += v;
  auto latency_json = [](const stats::LatencyHistogram& h) {
    return json{{"count", h.count()},
                {"p50", h.Percentile(0.50)},
                {"p90", h.Percentile(0.90)},
                {"p99", h.Percentile(0.99)},
                {"p999", h.Percentile(0.999)},
                {"max", h.max()},
                {"mean", h.mean()}};
  };
  json per_op = json::object();
  for (const auto& [op, h] : total.per_op) per_op[op] = latency_json(h);
  CommandOutput out;
  out.json = json{{"clients", options.clients},
                  {"balancer", session_options.balancer},
                  {"seconds", secs},
                  {"ok", total.ok},
                  {"failed", failed},
                  {"throughput_per_s", secs > 0 ? total.ok / secs : 0.0},
                  {"latency_us", latency_json(total.latency)},
                  {"latency_us_by_op", per_op},
                  {"errors", total.errors},
                  {"calls_per_replica", total.per_replica},
                  {"retries", total.retries},
                  {"registry_lookups", total.registry_lookups},
                  {"poll_id", poll_id},
                  {"votes_acknowledged", total.votes_acknowledged}};
  char line[512];
  std::snprintf(line, sizeof line,
                "%lld ok, %lld failed in %.2f s with %d client(s) (%s): %.0f calls/s\n"
                "latency us: p50 %lld  p90 %lld  p99 %lld  p99.9 %lld  max %lld\n",
                static_cast<long long>(total.ok), static_cast<long long>(failed), secs,
                options.clients, session_options.balancer.c_str(),
                secs > 0 ? total.ok / secs : 0.0,
                static_cast<long long>(total.latency.Percentile(0.5)),
                static_cast<long long>(total.latency.Percentile(0.9)),
                static_cast<long long>(total.latency.Percentile(0.99)),
                static_cast<long long>(total.latency.Percentile(0.999)),
                static_cast<long long>(total.latency.max()));
  out.text = line;
  out.text += "calls per replica:";
  for (const auto& [k, v] : total.per_replica) out.text += " " + k + "=" + std::to_string(v);
  if (!total.errors.empty()) {
    out.text += "\nerrors:";
    for (const auto& [k, v] : total.errors) out.text += " " + k + "=" + std::to_string(v);
  }
  out.text += "\nretries after transport failures: " + std::to_string(total.retries) +
              ", registry lookups: " + std::to_string(total.registry_lookups);
  if (votes) {
    out.text += "\nvotes acknowledged: " + std::to_string(total.votes_acknowledged) +
                " (poll " + std::to_string(poll_id) + ")";
  }
  // The report is printed either way; the exit code tells scripts whether
  // every call succeeded.
  out.exit_code = failed > 0 ? kExitServiceError : kExitOk;
  return out;
}

}  // namespace beacon::client_app
