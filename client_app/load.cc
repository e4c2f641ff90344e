#include "load.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>

#include "client/load_engine.h"
#include "client/load_operations.h"

namespace beacon::client_app {

const char* const kLoadUsage =
    "load --clients C (--requests N | --duration S) [--mix prime=W,count=W,vote=W]\n"
    "     [--poll ID] [--count-width W]\n"
    "  C concurrent client sessions (1..1024), each with its own cache, balancer and\n"
    "  connections. N requests in total (1..100000000) or S seconds (at most 3600).\n"
    "  --mix weights the operations (default prime=1); votes use distinct voters on\n"
    "  poll ID, or on a poll created for the run.";

namespace {

template <class T>
Status ParseNumber(const std::string& flag, const std::string& text, T* out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument(flag + " needs a number, got '" + text + "'");
  }
  return Status::Ok();
}

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
          if (Status s = ParseNumber("--mix " + name, item.substr(eq + 1), &weight);
              !s.ok()) {
            return s;
          }
        }
        if (name != "prime" && name != "count" && name != "vote") {
          return InvalidArgument("--mix knows prime, count and vote, not '" + name + "'");
        }
        if (weight < 0 || weight > 1000)
          return InvalidArgument("--mix weights must be 0..1000");
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
  if (o.clients < 1 || o.clients > 1024)
    return InvalidArgument("--clients must be 1..1024");
  if ((o.requests > 0) == (o.duration_s > 0)) {
    return InvalidArgument("give exactly one of --requests and --duration");
  }
  return o;
}

namespace {

nlohmann::json LatencyJson(const stats::LatencyHistogram& h) {
  return nlohmann::json{{"count", h.count()},
                        {"p50", h.Percentile(0.50)},
                        {"p90", h.Percentile(0.90)},
                        {"p99", h.Percentile(0.99)},
                        {"p999", h.Percentile(0.999)},
                        {"max", h.max()},
                        {"mean", h.mean()}};
}

std::string NewRunId() {
  std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08llx",
                static_cast<unsigned long long>(rng() & 0xffffffff));
  return buf;
}

int Weight(const LoadOptions& options, const char* op) {
  auto it = options.mix.find(op);
  return it == options.mix.end() ? 0 : it->second;
}

// The poll the run votes on (created for the run when none is given) and
// its options.
Status PreparePoll(const client::SessionOptions& session_options,
                   const std::string& run_id, client::SessionWorkload* workload) {
  auto setup = client::Session::Create(session_options);
  if (!setup.ok()) return setup.status();
  client::Session& s = **setup;
  if (workload->poll_id == 0) {
    auto created =
        s.CreatePoll("load run " + run_id, {"red", "green", "blue"}, "load-" + run_id);
    if (!created.ok()) return created.status();
    workload->poll_id = created->poll.poll_id;
    workload->options = created->poll.options;
    return Status::Ok();
  }
  auto results = s.Results(workload->poll_id);
  if (!results.ok()) return results.status();
  workload->options = results->poll.options;
  return Status::Ok();
}

}  // namespace

// A run with --requests is still bounded in time: by the longest --duration.
constexpr double kMaxRunSeconds = 3600;

CommandOutput RunLoad(const LoadOptions& options,
                      const client::SessionOptions& session_options) {
  const std::string run_id = NewRunId();
  client::SessionWorkload workload;
  workload.prime_weight = Weight(options, client::kOpPrime);
  workload.count_weight = Weight(options, client::kOpCount);
  workload.vote_weight = Weight(options, client::kOpVote);
  workload.count_width = options.count_width;
  workload.poll_id = options.poll_id;
  const bool votes = workload.vote_weight > 0;
  if (votes) {
    if (Status s = PreparePoll(session_options, run_id, &workload); !s.ok())
      return Failure(s);
  }

  const uint64_t seed = std::random_device{}();
  client::LoadEngine engine(options.clients, [&](int c) {
    client::SessionWorkload mine = workload;
    mine.voter_prefix = "load-" + run_id + "-c" + std::to_string(c);
    return client::SessionLoadWorker::Create(session_options, std::move(mine),
                                             seed ^ (static_cast<uint64_t>(c) << 32));
  });
  client::LoadPhase phase;
  phase.seconds = options.duration_s > 0 ? options.duration_s : kMaxRunSeconds;
  phase.max_calls = options.requests;
  if (options.progress) {
    phase.progress = [](int64_t calls, double secs) {
      std::fprintf(stderr, "\r%lld calls, %.0f/s   ", static_cast<long long>(calls),
                   secs > 0 ? calls / secs : 0.0);
    };
  }
  const auto start = std::chrono::steady_clock::now();
  const client::LoadPhaseResult run = engine.Run(phase);
  if (options.progress) std::fprintf(stderr, "\r\033[K");
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  client::LoadTally total = run.tally;
  // A client whose session could not be created counts as one failure.
  for (const Status& setup : engine.setup_errors()) {
    ++total.failed;
    ++total.errors_by_code[StatusCodeName(setup.code())];
  }
  const int64_t registry_lookups = total.counters.count("registry_lookups")
                                       ? total.counters.at("registry_lookups")
                                       : 0;
  const auto counter = [&](const char* name) -> int64_t {
    auto it = total.counters.find(name);
    return it == total.counters.end() ? 0 : it->second;
  };
  const int64_t hedges_sent = counter("hedges_sent");
  const int64_t hedges_won = counter("hedges_won");
  const int64_t busy_retries = counter("busy_retries");
  const int64_t votes_acknowledged =
      total.ok_by_op.count(client::kOpVote) ? total.ok_by_op.at(client::kOpVote) : 0;
  nlohmann::json per_op = nlohmann::json::object();
  for (const auto& [op, h] : total.latency_by_op) per_op[op] = LatencyJson(h);
  CommandOutput out;
  out.json = nlohmann::json{{"clients", options.clients},
                            {"balancer", session_options.balancer},
                            {"seconds", secs},
                            {"ok", total.ok},
                            {"failed", total.failed},
                            {"throughput_per_s", secs > 0 ? total.ok / secs : 0.0},
                            {"latency_us", LatencyJson(total.latency)},
                            {"latency_us_by_op", per_op},
                            {"errors", total.errors_by_code},
                            {"calls_per_replica", total.per_replica},
                            {"retries", engine.retries()},
                            {"busy_retries", busy_retries},
                            {"hedge_ms", client::HedgeName(session_options.hedge)},
                            {"hedges_sent", hedges_sent},
                            {"hedges_won", hedges_won},
                            {"registry_lookups", registry_lookups},
                            {"poll_id", workload.poll_id},
                            {"votes_acknowledged", votes_acknowledged}};
  char line[512];
  std::snprintf(line, sizeof line,
                "%lld ok, %lld failed in %.2f s with %d client(s) (%s): %.0f calls/s\n"
                "latency us: p50 %lld  p90 %lld  p99 %lld  p99.9 %lld  max %lld\n",
                static_cast<long long>(total.ok), static_cast<long long>(total.failed),
                secs, options.clients, session_options.balancer.c_str(),
                secs > 0 ? total.ok / secs : 0.0,
                static_cast<long long>(total.latency.Percentile(0.5)),
                static_cast<long long>(total.latency.Percentile(0.9)),
                static_cast<long long>(total.latency.Percentile(0.99)),
                static_cast<long long>(total.latency.Percentile(0.999)),
                static_cast<long long>(total.latency.max()));
  out.text = line;
  out.text += "calls per replica:";
  for (const auto& [k, v] : total.per_replica)
    out.text += " " + k + "=" + std::to_string(v);
  if (!total.errors_by_code.empty()) {
    out.text += "\nerrors:";
    for (const auto& [k, v] : total.errors_by_code)
      out.text += " " + k + "=" + std::to_string(v);
  }
  out.text += "\nretries: " + std::to_string(engine.retries()) + " (" +
              std::to_string(busy_retries) + " after a busy answer)" +
              ", registry lookups: " + std::to_string(registry_lookups);
  out.text += "\nhedging " + client::HedgeName(session_options.hedge) + ": " +
              std::to_string(hedges_sent) + " hedge(s) sent, " +
              std::to_string(hedges_won) + " answered first";
  if (votes) {
    out.text += "\nvotes acknowledged: " + std::to_string(votes_acknowledged) +
                " (poll " + std::to_string(workload.poll_id) + ")";
  }
  // The report is printed either way; the exit code tells scripts whether
  // every call succeeded: 0 yes; 3 when every failure was a server that
  // could not be reached (as the other commands); 1 for any other failure.
  out.exit_code = total.failed == 0                ? kExitOk
                  : total.AllFailuresUnavailable() ? kExitUnavailable
                                                   : kExitServiceError;
  return out;
}

}  // namespace beacon::client_app
