#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace beacon::bench {

using nlohmann::json;

namespace {

bool Meets(Goal::Kind kind, double value, double target) {
  switch (kind) {
    case Goal::Kind::kAtLeast:
      return value >= target;
    case Goal::Kind::kAtMost:
      return value <= target;
    case Goal::Kind::kBelow:
      return value < target;
  }
  return false;
}

const char* KindSymbol(Goal::Kind kind) {
  switch (kind) {
    case Goal::Kind::kAtLeast:
      return ">=";
    case Goal::Kind::kAtMost:
      return "<=";
    case Goal::Kind::kBelow:
      return "<";
  }
  return "?";
}

// ---- Markdown helpers ----

enum class Unit {
  kRate,
  kRateDecimal,
  kRatio,
  kMicros,
  kMillisFromMicros,
  kMillis,
  kPercent,
  kCount
};

std::string FormatValue(double v, Unit unit) {
  char buf[64];
  switch (unit) {
    case Unit::kRate:
    case Unit::kCount: {
      const long long n = std::llround(v);
      std::string digits = std::to_string(std::llabs(n));
      std::string out;
      for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
      }
      return (n < 0 ? "-" : "") + out;
    }
    case Unit::kRateDecimal:
      std::snprintf(buf, sizeof buf, "%.1f", v);
      break;
    case Unit::kRatio:
      std::snprintf(buf, sizeof buf, "%.2f", v);
      break;
    case Unit::kMicros:
      std::snprintf(buf, sizeof buf, "%.0f", v);
      break;
    case Unit::kMillisFromMicros:
      std::snprintf(buf, sizeof buf, "%.1f", v / 1000);
      break;
    case Unit::kMillis:
      std::snprintf(buf, sizeof buf, "%.1f", v);
      break;
    case Unit::kPercent:
      std::snprintf(buf, sizeof buf, "%.1f%%", v * 100);
      break;
  }
  return buf;
}

class Page {
 public:
  explicit Page(const json& report) : report_(report) {}

  bool Has(const std::string& scenario) const {
    return report_["scenarios"].contains(scenario);
  }

  // "median (min–max)", the median alone for one repetition, "–" when absent.
  std::string Cell(const std::string& scenario, const std::string& metric,
                   Unit unit) const {
    const json* m = Find(scenario, metric);
    if (!m) return "–";
    const std::string median = FormatValue((*m)["median"].get<double>(), unit);
    if ((*m)["n"].get<int>() < 2) return median;
    return median + " (" + FormatValue((*m)["min"].get<double>(), unit) + "–" +
           FormatValue((*m)["max"].get<double>(), unit) + ")";
  }

  const json* Find(const std::string& scenario, const std::string& metric) const {
    const json& s = report_["scenarios"];
    if (!s.contains(scenario) || !s[scenario]["metrics"].contains(metric)) return nullptr;
    return &s[scenario]["metrics"][metric];
  }

  // Metric names of `scenario` matching prefix*suffix, with the middle part.
  std::vector<std::string> Middles(const std::string& scenario, const std::string& prefix,
                                   const std::string& suffix) const {
    std::set<std::string> out;
    if (!Has(scenario)) return {};
    for (const auto& [name, value] : report_["scenarios"][scenario]["metrics"].items()) {
      if (name.size() >= prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.insert(
            name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
      }
    }
    return {out.begin(), out.end()};
  }

  // Numbers after a letter prefix ("s1.x", "s16.x" -> 1, 16), sorted.
  std::vector<int> Levels(const std::string& scenario, char letter,
                          const std::string& suffix) const {
    std::set<int> out;
    for (const std::string& mid : Middles(scenario, std::string(1, letter), suffix)) {
      if (!mid.empty() && mid.find_first_not_of("0123456789") == std::string::npos) {
        out.insert(std::stoi(mid));
      }
    }
    return {out.begin(), out.end()};
  }

 private:
  const json& report_;
};

void Row(std::ostringstream& out, const std::vector<std::string>& cells) {
  out << "|";
  for (const std::string& c : cells) out << " " << c << " |";
  out << "\n";
}

std::string MetaString(const json& meta, const std::string& key,
                       const std::string& fallback = "?") {
  if (!meta.contains(key)) return fallback;
  if (meta[key].is_string()) return meta[key].get<std::string>();
  return meta[key].dump();
}

}  // namespace

Spread Summarize(std::vector<double> values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  s.median = values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

std::vector<Goal> IssueGoals() {
  std::vector<Goal> goals;
  for (int n : {1, 4, 16, 64}) {
    const std::string s = "s" + std::to_string(n);
    goals.push_back({"Client path throughput >= 0.90x plain Thrift, " +
                         std::to_string(n) + " session(s)",
                     "overhead", s + ".tput_ratio", Goal::Kind::kAtLeast, 0.90});
    goals.push_back(
        {"Client path p99 <= 1.2x plain Thrift, " + std::to_string(n) + " session(s)",
         "overhead", s + ".p99_ratio", Goal::Kind::kAtMost, 1.2});
    goals.push_back({"Client CPU per call <= 1.05x plain Thrift, " + std::to_string(n) +
                         " session(s)",
                     "overhead", s + ".client_cpu_ratio", Goal::Kind::kAtMost, 1.05});
  }
  goals.push_back({"castVote throughput >= 0.6x isPrime, 16 clients", "voting",
                   "c16.vote_over_prime_tput", Goal::Kind::kAtLeast, 0.6});
  // Issue 15 (the voting path at the speed of the disk); its p99.9 goals
  // are issue 7's below.
  goals.push_back({"castVote throughput >= 0.30x isPrime, 16 clients (issue 15)",
                   "voting", "c16.vote_over_prime_tput", Goal::Kind::kAtLeast, 0.30});
  goals.push_back(
      {"No castVote slower than 50 ms, 64 clients (issue 15; worst "
       "repetition, µs)",
       "voting", "c64.vote.max_us", Goal::Kind::kBelow, 50000,
       /*worst_case=*/true});
  for (int n : {16, 64}) {
    const std::string c = "c" + std::to_string(n);
    goals.push_back(
        {"castVote p99.9 <= 5x isPrime p99.9, " + std::to_string(n) + " clients",
         "voting", c + ".vote_over_prime_p999", Goal::Kind::kAtMost, 5});
    goals.push_back({"No castVote slower than 100 ms, " + std::to_string(n) +
                         " clients (worst repetition, µs)",
                     "voting", c + ".vote.max_us", Goal::Kind::kBelow, 100000,
                     /*worst_case=*/true});
  }
  // Issue 16: p2c in the fairness scenario (normal, then r3 slow by 2 ms).
  goals.push_back({"p2c throughput >= 0.95x round-robin, normal", "fairness",
                   "normal.p2c_over_rr_tput", Goal::Kind::kAtLeast, 0.95});
  goals.push_back({"p2c p99 <= 1.1x round-robin, normal", "fairness",
                   "normal.p2c_over_rr_p99", Goal::Kind::kAtMost, 1.1});
  goals.push_back({"p2c with slow r3 keeps >= 0.85x of its normal throughput", "fairness",
                   "p2c.slow_over_normal_tput", Goal::Kind::kAtLeast, 0.85});
  goals.push_back({"p2c gives slow r3 <= 10% of calls", "fairness", "slow.p2c.share.r3",
                   Goal::Kind::kAtMost, 0.10});
  // Issue 16: hedged calls. A paused replica under every policy with hedging
  // auto (p2c is "not measured" where the factory does not know it), and
  // what hedging costs while every replica is healthy.
  for (const std::string policy : {"round-robin", "lru", "p2c"}) {
    goals.push_back({"Paused replica, " + policy +
                         ", hedging auto: no failed isPrime call (issue 16; worst "
                         "repetition)",
                     "paused", policy + ".auto.failed", Goal::Kind::kAtMost, 0,
                     /*worst_case=*/true});
    goals.push_back({"Paused replica, " + policy +
                         ", hedging auto: no isPrime call slower than 100 ms (issue 16; "
                         "worst repetition, µs)",
                     "paused", policy + ".auto.max_us", Goal::Kind::kBelow, 100000,
                     /*worst_case=*/true});
    goals.push_back(
        {"Paused replica, " + policy +
             ", hedging auto: no failed castVote (issue 16; worst repetition)",
         "paused", "votes." + policy + ".auto.failed", Goal::Kind::kAtMost, 0,
         /*worst_case=*/true});
  }
  goals.push_back({"Hedging auto, healthy replicas: extra calls <= 2 % (issue 16)",
                   "paused", "healthy.extra_calls", Goal::Kind::kAtMost, 0.02});
  goals.push_back(
      {"Hedging auto, healthy replicas: throughput >= 0.97x hedging off (issue 16)",
       "paused", "healthy.tput_ratio", Goal::Kind::kAtLeast, 0.97});
  goals.push_back(
      {"Hedging auto, healthy replicas: client CPU per call <= 1.05x hedging off "
       "(issue 16)",
       "paused", "healthy.client_cpu_ratio", Goal::Kind::kAtMost, 1.05});
  // Issue 17: the registry's watch path at 10,000 watchers.
  goals.push_back({"10,000 watchers: every one notified (missed, worst repetition)",
                   "registry", "w10000.missed", Goal::Kind::kAtMost, 0,
                   /*worst_case=*/true});
  goals.push_back({"10,000 watchers: change → notified p99 <= 100 ms (µs)", "registry",
                   "w10000.wake_p99_us", Goal::Kind::kAtMost, 100000});
  goals.push_back(
      {"10,000 watchers: change → last notified <= 200 ms (worst repetition, µs)",
       "registry", "w10000.wake_max_us", Goal::Kind::kAtMost, 200000,
       /*worst_case=*/true});
  goals.push_back({"1,000 watchers: change → notified p99 <= 10 ms (µs)", "registry",
                   "w1000.wake_p99_us", Goal::Kind::kAtMost, 10000});
  goals.push_back({"Registry CPU per notified watcher <= 10 µs (10,000 watchers)",
                   "registry", "w10000.cpu_per_watcher_us", Goal::Kind::kAtMost, 10});
  goals.push_back({"Registry RSS with 10,000 waiting watchers <= 256 MiB", "registry",
                   "w10000.rss_mib", Goal::Kind::kAtMost, 256});
  goals.push_back({"Lookup p99 with 10,000 watchers waiting <= 1.2x with none",
                   "registry", "w10000.lookup_waiting_over_idle_p99", Goal::Kind::kAtMost,
                   1.2});
  goals.push_back(
      {"A change to another service wakes none of 10,000 watchers (worst "
       "repetition)",
       "registry", "w10000.other_service_woken", Goal::Kind::kAtMost, 0,
       /*worst_case=*/true});
  return goals;
}

namespace {

// Ratios of two metrics recorded by separate runs of one scenario and
// repetition (e.g. the fairness scenario's "normal" and "slow" runs), added
// to the merged record: {scenario, name, numerator, denominator}.
struct DerivedRatio {
  const char* scenario;
  const char* name;
  const char* numerator;
  const char* denominator;
};
constexpr DerivedRatio kDerivedRatios[] = {
    {"fairness", "p2c.slow_over_normal_tput", "slow.p2c.tput", "normal.p2c.tput"},
};

void AddDerivedRatios(const std::string& scenario, json& metrics) {
  for (const DerivedRatio& d : kDerivedRatios) {
    if (scenario != d.scenario || !metrics.contains(d.numerator) ||
        !metrics.contains(d.denominator) || !metrics[d.numerator].is_number() ||
        !metrics[d.denominator].is_number() || metrics[d.denominator].get<double>() == 0)
      continue;
    metrics[d.name] =
        metrics[d.numerator].get<double>() / metrics[d.denominator].get<double>();
  }
}

}  // namespace

json BuildReport(const std::vector<json>& records, const json& meta,
                 const std::vector<Goal>& goals) {
  // scenario -> rep -> merged record
  std::map<std::string, std::map<int, json>> merged;
  std::map<std::string, std::vector<double>> loads;
  for (const json& r : records) {
    if (!r.contains("scenario") || !r.contains("rep")) continue;
    const std::string scenario = r["scenario"].get<std::string>();
    json& into = merged[scenario][r["rep"].get<int>()];
    if (into.is_null())
      into = json{{"metrics", json::object()}, {"detail", json::object()}};
    if (r.contains("metrics")) into["metrics"].update(r["metrics"]);
    if (r.contains("detail")) into["detail"].update(r["detail"]);
    if (r.contains("load1") && r["load1"].is_number()) {
      loads[scenario].push_back(r["load1"].get<double>());
    }
  }

  json report{{"meta", meta}, {"scenarios", json::object()}, {"goals", json::array()}};
  for (auto& [scenario, reps] : merged) {
    std::map<std::string, std::vector<double>> values;
    json detail = json::object();
    for (auto& [rep, rec] : reps) {
      AddDerivedRatios(scenario, rec["metrics"]);
      for (const auto& [name, v] : rec["metrics"].items()) {
        if (v.is_number()) values[name].push_back(v.get<double>());
      }
      detail[std::to_string(rep)] = rec["detail"];
    }
    json metrics = json::object();
    for (const auto& [name, vs] : values) {
      const Spread s = Summarize(vs);
      metrics[name] = json{{"median", s.median},
                           {"min", s.min},
                           {"max", s.max},
                           {"n", s.n},
                           {"values", vs}};
    }
    report["scenarios"][scenario] = json{{"reps", reps.size()},
                                         {"load1", loads[scenario]},
                                         {"metrics", metrics},
                                         {"detail", detail}};
  }

  for (const Goal& g : goals) {
    json out{
        {"text", g.text},     {"scenario", g.scenario},     {"metric", g.metric},
        {"target", g.target}, {"kind", KindSymbol(g.kind)}, {"worst_case", g.worst_case},
        {"measured", false}};
    const json& s = report["scenarios"];
    if (s.contains(g.scenario) && s[g.scenario]["metrics"].contains(g.metric)) {
      const json& m = s[g.scenario]["metrics"][g.metric];
      double value = m["median"].get<double>();
      if (g.worst_case) {
        value = g.kind == Goal::Kind::kAtLeast ? m["min"].get<double>()
                                               : m["max"].get<double>();
      }
      int reps_met = 0;
      for (const json& v : m["values"])
        reps_met += Meets(g.kind, v.get<double>(), g.target);
      out["measured"] = true;
      out["value"] = value;
      out["met"] = Meets(g.kind, value, g.target);
      out["reps_met"] = reps_met;
      out["reps"] = m["n"];
    }
    report["goals"].push_back(out);
  }
  return report;
}

std::string RenderMarkdown(const json& report) {
  const json& meta = report["meta"];
  const Page page(report);
  std::ostringstream out;
  const bool smoke = MetaString(meta, "mode") == "smoke";
  out << "# Beacon benchmark results" << (smoke ? " (SMOKE RUN: not a measurement)" : "")
      << "\n\n";
  out << "- Run: " << MetaString(meta, "date") << ", " << MetaString(meta, "duration_s")
      << " s in all, `" << MetaString(meta, "command", "bench/run") << "`\n";
  out << "- Machine: " << MetaString(meta, "cores") << " cores ("
      << MetaString(meta, "cpu")
      << "), shared: client and servers run on the same cores\n";
  out << "- Load average (1 min): " << MetaString(meta, "load1_start")
      << " at the start, " << MetaString(meta, "load1_end") << " at the end";
  {
    std::vector<double> all;
    for (const auto& [name, s] : report["scenarios"].items()) {
      for (const json& v : s["load1"]) all.push_back(v.get<double>());
    }
    if (!all.empty()) {
      const Spread s = Summarize(all);
      char buf[96];
      std::snprintf(buf, sizeof buf, ", %.1f–%.1f (median %.1f) when scenarios started",
                    s.min, s.max, s.median);
      out << buf;
    }
  }
  out << "\n";
  out << "- Build: " << MetaString(meta, "build_type") << ", "
      << MetaString(meta, "compiler") << ", commit " << MetaString(meta, "commit")
      << "\n";
  out << "- Each scenario repeated " << MetaString(meta, "reps") << " times; "
      << MetaString(meta, "warmup_s") << " s warm-up and "
      << MetaString(meta, "measure_s")
      << " s measured per load. The two sides of a comparison run in the same process, "
         "one "
         "at a time, taking turns in "
      << MetaString(meta, "slice_s")
      << " s slices (A B A B ..., warm-ups in the same order; the first side "
         "alternates between repetitions), so load from other processes falls on both "
         "alike. "
         "Cells "
         "show median (min–max) over repetitions; a ratio is computed within each "
         "repetition, "
         "then summarised.\n\n";
  if (smoke)
    out << "Smoke run: windows far too short to mean anything; the goal column below "
           "only shows that the pipeline works.\n\n";

  out << "## Goals\n\n";
  Row(out, {"Goal", "Target", "Measured", "Met"});
  Row(out, {"---", "---", "---", "---"});
  for (const json& g : report["goals"]) {
    const std::string target =
        g["kind"].get<std::string>() + " " +
        FormatValue(g["target"].get<double>(),
                    g["target"].get<double>() >= 1000 ? Unit::kCount : Unit::kRatio);
    if (!g["measured"].get<bool>()) {
      Row(out, {g["text"].get<std::string>(), target, "not measured", "–"});
      continue;
    }
    const bool worst = g["worst_case"].get<bool>();
    const Unit unit = g["target"].get<double>() >= 1000 ? Unit::kCount : Unit::kRatio;
    const std::string measured =
        worst ? FormatValue(g["value"].get<double>(), unit) + " (worst)"
              : page.Cell(g["scenario"].get<std::string>(),
                          g["metric"].get<std::string>(), unit);
    const std::string met = std::string(g["met"].get<bool>() ? "**yes**" : "**no**") +
                            " (" + std::to_string(g["reps_met"].get<int>()) + "/" +
                            std::to_string(g["reps"].get<int>()) + " reps)";
    Row(out, {g["text"].get<std::string>(), target, measured, met});
  }
  out << "\n";

  if (page.Has("overhead")) {
    out << "## 1. Client path overhead: isPrime, 3 replicas\n\n"
           "Beacon = client::Session (registry lookup + watch, cached list, round-robin "
           "balancer, pooled connections). Plain = Thrift client with one connection per "
           "replica opened once per thread, round-robin, no registry. Same numbers "
           "asked, same "
           "framed/binary transport.\n\n";
    Row(out, {"Sessions", "Plain calls/s", "Beacon calls/s", "Tput ratio", "Plain p50 µs",
              "Beacon p50 µs", "Plain p99 µs", "Beacon p99 µs", "p99 ratio",
              "Client CPU µs/call (plain / Beacon)",
              "Errors plain / Beacon (Beacon retries)"});
    Row(out, {"---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
              "---:", "---:"});
    for (int n : page.Levels("overhead", 's', ".tput_ratio")) {
      const std::string p = "s" + std::to_string(n);
      Row(out,
          {std::to_string(n), page.Cell("overhead", p + ".plain.tput", Unit::kRate),
           page.Cell("overhead", p + ".beacon.tput", Unit::kRate),
           page.Cell("overhead", p + ".tput_ratio", Unit::kRatio),
           page.Cell("overhead", p + ".plain.p50_us", Unit::kMicros),
           page.Cell("overhead", p + ".beacon.p50_us", Unit::kMicros),
           page.Cell("overhead", p + ".plain.p99_us", Unit::kMicros),
           page.Cell("overhead", p + ".beacon.p99_us", Unit::kMicros),
           page.Cell("overhead", p + ".p99_ratio", Unit::kRatio),
           page.Cell("overhead", p + ".plain.client_cpu_us_per_call", Unit::kMillis) +
               " / " +
               page.Cell("overhead", p + ".beacon.client_cpu_us_per_call", Unit::kMillis),
           page.Cell("overhead", p + ".plain.errors", Unit::kCount) + " / " +
               page.Cell("overhead", p + ".beacon.errors", Unit::kCount) + " (" +
               page.Cell("overhead", p + ".beacon.retries", Unit::kCount) + ")"});
    }
    out << "\n";
  }

  // Scenario 2, once per store; the PostgreSQL run states its settings.
  for (const std::string scenario : {"voting", "voting_postgres"}) {
    if (!page.Has(scenario)) continue;
    const bool postgres = scenario == "voting_postgres";
    out << (postgres ? "## 2b. Voting path: 3 replicas on one PostgreSQL database\n\n"
                     : "## 2. Voting path: 3 replicas on one SQLite file\n\n");
    if (postgres) {
      out << "PostgreSQL " << MetaString(meta, "postgres_version")
          << " on the same machine, " << MetaString(meta, "postgres_settings") << ".\n\n";
    }
    out << "castVote with a distinct voter per call and isPrime, both through "
           "client::Session, "
           "in the same run.\n\n";
    Row(out, {"Clients", "isPrime calls/s", "castVote calls/s", "Vote/prime tput",
              "isPrime p99.9 µs", "castVote p99.9 µs", "p99.9 ratio", "castVote max ms",
              "castVote errors (retries)", "Vote tput / raw rate",
              "Raw in-process votes/s (1 thread / many)"});
    Row(out, {"---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
              "---:", "---:"});
    for (int n : page.Levels(scenario, 'c', ".vote_over_prime_tput")) {
      const std::string c = "c" + std::to_string(n);
      Row(out, {std::to_string(n), page.Cell(scenario, c + ".prime.tput", Unit::kRate),
                page.Cell(scenario, c + ".vote.tput", Unit::kRate),
                page.Cell(scenario, c + ".vote_over_prime_tput", Unit::kRatio),
                page.Cell(scenario, c + ".prime.p999_us", Unit::kMicros),
                page.Cell(scenario, c + ".vote.p999_us", Unit::kMicros),
                page.Cell(scenario, c + ".vote_over_prime_p999", Unit::kRatio),
                page.Cell(scenario, c + ".vote.max_us", Unit::kMillisFromMicros),
                page.Cell(scenario, c + ".vote.errors", Unit::kCount) + " (" +
                    page.Cell(scenario, c + ".vote.retries", Unit::kCount) + ")",
                page.Cell(scenario, c + ".vote_over_raw", Unit::kPercent),
                page.Cell(scenario, "raw.tput", Unit::kRate) + " / " +
                    page.Cell(scenario, "raw_many.tput", Unit::kRate)});
    }
    out << "\nRaw in-process rate of the same transaction ("
        << (postgres ? "PostgresVoteStore" : "SqliteVoteStore")
        << "::CastVote, one thread, fresh poll): "
        << page.Cell(scenario, "raw.tput", Unit::kRate) << " votes/s, p99 "
        << page.Cell(scenario, "raw.p99_us", Unit::kMicros) << " µs, max "
        << page.Cell(scenario, "raw.max_us", Unit::kMillisFromMicros) << " ms; "
        << page.Cell(scenario, "raw_many.threads", Unit::kCount)
        << " threads: " << page.Cell(scenario, "raw_many.tput", Unit::kRate)
        << " votes/s, p99 " << page.Cell(scenario, "raw_many.p99_us", Unit::kMicros)
        << " µs, max " << page.Cell(scenario, "raw_many.max_us", Unit::kMillisFromMicros)
        << " ms.\n\n";
    if (page.Find(scenario, "wal.largest_bytes") != nullptr) {
      out << "The replicas' WAL during the client loads: largest "
          << page.Cell(scenario, "wal.largest_mb", Unit::kRateDecimal)
          << " MB; rewound after a complete background checkpoint "
          << page.Cell(scenario, "wal.rewinds", Unit::kCount) << " times.\n\n";
    }
  }

  if (page.Has("registry")) {
    const json* rounds = page.Find("registry", "watch.rounds");
    const json* instances = page.Find("registry", "lease.instances");
    const std::string inst =
        instances ? FormatValue((*instances)["median"].get<double>(), Unit::kCount) : "?";
    out << "## 3. Registry\n\n";
    Row(out, {"Measure", "Value"});
    Row(out, {"---", "---:"});
    Row(out, {"lookup calls/s (" + MetaString(meta, "registry_threads") +
                  " threads, plain Thrift)",
              page.Cell("registry", "lookup.tput", Unit::kRate)});
    Row(out, {"ping calls/s (same threads, same server)",
              page.Cell("registry", "ping.tput", Unit::kRate)});
    Row(out, {"lookup / ping throughput",
              page.Cell("registry", "lookup_over_ping_tput", Unit::kRatio)});
    Row(out, {"register " + inst + " instances, one client, ms",
              page.Cell("registry", "lease.register_ms", Unit::kMillis)});
    Row(out, {"heartbeat " + inst + " instances, ms",
              page.Cell("registry", "lease.heartbeat_ms", Unit::kMillis)});
    Row(out, {"deregister " + inst + " instances, ms",
              page.Cell("registry", "lease.deregister_ms", Unit::kMillis)});
    Row(out, {"lookup p50 / p99 µs, no watchers",
              page.Cell("registry", "lookup_idle.p50_us", Unit::kMicros) + " / " +
                  page.Cell("registry", "lookup_idle.p99_us", Unit::kMicros)});
    Row(out, {"errors: lookup / ping / lookup with no watchers",
              page.Cell("registry", "lookup.errors", Unit::kCount) + " / " +
                  page.Cell("registry", "ping.errors", Unit::kCount) + " / " +
                  page.Cell("registry", "lookup_idle.errors", Unit::kCount)});
    out << "\n";
    // One column per watcher count (w<N>.*): each watcher on its own
    // connection, all held by one client thread (epoll).
    const std::vector<int> counts = page.Levels("registry", 'w', ".watchers");
    if (!counts.empty()) {
      out << "Waiting watchers (server: " << MetaString(meta, "registry_server", "event")
          << "), woken by "
          << (rounds ? FormatValue((*rounds)["median"].get<double>(), Unit::kCount) : "?")
          << " changes each; registry CPU from /proc/PID/stat (utime+stime, 10 ms "
             "ticks) over the changes, divided by notifications:\n\n";
      std::vector<std::string> header{"Measure"};
      std::vector<std::string> align{"---"};
      for (int n : counts) {
        header.push_back(FormatValue(n, Unit::kCount) + " watchers");
        align.push_back("---:");
      }
      Row(out, header);
      Row(out, align);
      const auto row = [&](const std::string& label, const std::string& metric,
                           Unit unit) {
        std::vector<std::string> cells{label};
        for (int n : counts) {
          cells.push_back(
              page.Cell("registry", "w" + std::to_string(n) + "." + metric, unit));
        }
        Row(out, cells);
      };
      row("connections (one watch each)", "connections", Unit::kCount);
      row("notified (of watchers × changes)", "woken", Unit::kCount);
      row("failed", "failed", Unit::kCount);
      row("change → notified p50, ms", "wake_p50_us", Unit::kMillisFromMicros);
      row("change → notified p99, ms", "wake_p99_us", Unit::kMillisFromMicros);
      row("change → last notified, ms", "wake_max_us", Unit::kMillisFromMicros);
      row("client: first → last receipt, ms", "client_first_to_last_us",
          Unit::kMillisFromMicros);
      row("client: receive CPU per watcher, µs", "client_recv_cpu_us_per_watcher",
          Unit::kRateDecimal);
      row("registry CPU per notified watcher, µs", "cpu_per_watcher_us",
          Unit::kRateDecimal);
      row("  of which user (utime), µs", "cpu_user_per_watcher_us", Unit::kRateDecimal);
      row("  of which kernel (stime), µs", "cpu_sys_per_watcher_us", Unit::kRateDecimal);
      // bench/loopback_floor: the same fan-out with no registry at all.
      row("floor: one loopback write per connection, sender CPU µs",
          "floor_cpu_per_write_us", Unit::kRateDecimal);
      row("  of which kernel (system time), µs", "floor_sys_per_write_us",
          Unit::kRateDecimal);
      row("floor: first write → last read, ms", "floor_last_read_us",
          Unit::kMillisFromMicros);
      row("registry RSS while they wait, MiB", "rss_mib", Unit::kRateDecimal);
      row("registry RSS per waiting watcher, KiB", "rss_per_watcher_kib",
          Unit::kRateDecimal);
      row("registry threads while they wait", "threads", Unit::kCount);
      row("woken by a change of another service", "other_service_woken", Unit::kCount);
      row("lookup p50 µs while they wait", "lookup_waiting.p50_us", Unit::kMicros);
      row("lookup p99 µs while they wait", "lookup_waiting.p99_us", Unit::kMicros);
      row("lookup p99 waiting / none", "lookup_waiting_over_idle_p99", Unit::kRatio);
      row("lookup errors while they wait", "lookup_waiting.errors", Unit::kCount);
      out << "\n";
      out << "The floor rows come from bench/loopback_floor: the same number of "
             "loopback TCP connections with no registry, one thread writing one "
             "104-byte message to each (TCP_NODELAY, the receiver parked in "
             "epoll_wait like the watch fleet), its CPU from getrusage. Its kernel "
             "time is what any one-connection-per-watcher design pays per "
             "notified watcher on this machine, whatever the registry does in "
             "user space; the 10 µs CPU goal cannot be met while that floor is "
             "near or above 10 µs.\n\n";
    }
    out << "\n";
  }

  if (page.Has("scaling")) {
    out << "## 4. Scaling: countPrimes (width " << MetaString(meta, "count_width")
        << "), " << MetaString(meta, "scaling_sessions")
        << " sessions, same offered load\n\n";
    out << "Each replica count has its own registry and replicas (one database); the "
           "three "
           "set-ups take turns in slices, one loaded at a time.\n\n";
    Row(out, {"Replicas", "calls/s", "p50 ms", "p99 ms", "vs 1 replica",
              "Replicas answering", "Errors (retries)"});
    Row(out, {"---:", "---:", "---:", "---:", "---:", "---:", "---:"});
    for (int k : page.Levels("scaling", 'r', ".tput")) {
      const std::string r = "r" + std::to_string(k);
      Row(out, {std::to_string(k), page.Cell("scaling", r + ".tput", Unit::kRateDecimal),
                page.Cell("scaling", r + ".p50_us", Unit::kMillisFromMicros),
                page.Cell("scaling", r + ".p99_us", Unit::kMillisFromMicros),
                page.Cell("scaling", r + "_over_r1_tput", Unit::kRatio),
                page.Cell("scaling", r + ".replicas_answering", Unit::kCount),
                page.Cell("scaling", r + ".errors", Unit::kCount) + " (" +
                    page.Cell("scaling", r + ".retries", Unit::kCount) + ")"});
    }
    out << "\n";
  }

  if (page.Has("fairness")) {
    out << "## 5. Balancer fairness: isPrime, " << MetaString(meta, "fairness_sessions")
        << " sessions, 3 replicas\n\n"
        << "\"slow\": r3 restarted with `--debug-delay-us "
        << MetaString(meta, "slow_delay_us")
        << "` (sleeps that long in every prime call).\n\n";
    std::set<std::string> replicas;
    for (const std::string& mid : page.Middles("fairness", "", "")) {
      const size_t at = mid.find(".share.");
      if (at != std::string::npos) replicas.insert(mid.substr(at + 7));
    }
    std::vector<std::string> head{"Set-up", "Balancer", "calls/s", "p50 µs", "p99 µs"};
    for (const std::string& r : replicas) head.push_back(r + " share");
    Row(out, head);
    Row(out, std::vector<std::string>(head.size(), "---"));
    for (const std::string& label : {std::string("normal"), std::string("slow")}) {
      for (const std::string& balancer : page.Middles("fairness", label + ".", ".tput")) {
        const std::string p = label + "." + balancer;
        std::vector<std::string> row{label, balancer,
                                     page.Cell("fairness", p + ".tput", Unit::kRate),
                                     page.Cell("fairness", p + ".p50_us", Unit::kMicros),
                                     page.Cell("fairness", p + ".p99_us", Unit::kMicros)};
        for (const std::string& r : replicas) {
          row.push_back(page.Cell("fairness", p + ".share." + r, Unit::kPercent));
        }
        Row(out, row);
      }
    }
    out << "\n";
  }

  if (page.Has("paused")) {
    out << "## 6. Paused replica: isPrime, " << MetaString(meta, "paused_sessions")
        << " sessions, 3 replicas, r3 stopped (SIGSTOP) for "
        << MetaString(meta, "pause_s") << " s mid-window\n\n"
        << "Healthy replicas first (round-robin, hedging auto vs off, interleaved): "
        << "extra calls " << page.Cell("paused", "healthy.extra_calls", Unit::kPercent)
        << ", throughput ratio "
        << page.Cell("paused", "healthy.tput_ratio", Unit::kRatio)
        << ", client CPU per call ratio "
        << page.Cell("paused", "healthy.client_cpu_ratio", Unit::kRatio) << ".\n\n";
    Row(out, {"Calls", "Balancer", "Hedging", "calls/s", "failed", "> 100 ms", "max ms",
              "hedges sent", "hedges won"});
    Row(out, std::vector<std::string>(9, "---"));
    for (const std::string& kind : {std::string(""), std::string("votes.")}) {
      for (const std::string& mid : page.Middles("paused", kind, ".failed")) {
        if (kind.empty() && mid.rfind("votes.", 0) == 0) continue;
        const size_t dot = mid.rfind('.');
        if (dot == std::string::npos) continue;
        const std::string p = kind + mid;
        Row(out, {kind.empty() ? "isPrime" : "castVote", mid.substr(0, dot),
                  mid.substr(dot + 1), page.Cell("paused", p + ".tput", Unit::kRate),
                  page.Cell("paused", p + ".failed", Unit::kCount),
                  page.Cell("paused", p + ".slow_calls", Unit::kCount),
                  page.Cell("paused", p + ".max_us", Unit::kMillisFromMicros),
                  page.Cell("paused", p + ".hedges_sent", Unit::kCount),
                  page.Cell("paused", p + ".hedges_won", Unit::kCount)});
      }
    }
    out << "\n";
  }
  return out.str();
}

std::string CdfTable(const json& report, int sessions, const std::string& rep) {
  const std::string p = "s" + std::to_string(sessions);
  const json& s = report["scenarios"];
  if (!s.contains("overhead") || !s["overhead"]["detail"].contains(rep)) return "";
  const json& d = s["overhead"]["detail"][rep];
  if (!d.contains(p + ".plain") || !d.contains(p + ".beacon") ||
      !d[p + ".plain"].contains("cdf") || !d[p + ".beacon"].contains("cdf")) {
    return "";
  }
  const json& plain = d[p + ".plain"]["cdf"];
  const json& beacon = d[p + ".beacon"]["cdf"];
  std::ostringstream out;
  out << "# fraction plain_us beacon_us (isPrime, " << sessions << " sessions, rep "
      << rep << ")\n";
  for (size_t i = 0; i < plain.size() && i < beacon.size(); ++i) {
    out << plain[i][0].get<double>() << " " << plain[i][1].get<double>() << " "
        << beacon[i][1].get<double>() << "\n";
  }
  return out.str();
}

}  // namespace beacon::bench
