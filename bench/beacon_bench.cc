// beacon_bench: the measuring side of bench/run. Each subcommand runs one
// repetition of one scenario against servers bench/run started and appends
// its record (one JSON line) to --raw; `report` turns the records into
// results/latest.json and latest.md; `wait-members` waits for replicas to
// register. See bench/run for the whole procedure.
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "report.h"
#include "scenario_support.h"
#include "scenarios.h"

namespace po = boost::program_options;
using nlohmann::json;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

const char* const kUsage =
    "Usage: beacon_bench COMMAND [options]   (bench/run drives it; see --help of each)\n"
    "Commands:\n"
    "  overhead      isPrime: client::Session vs plain Thrift at each session count\n"
    "  voting        castVote and isPrime through the system; raw store transaction "
    "rate\n"
    "  registry      lookup vs ping; lease cycle of many instances; many watchers woken\n"
    "  scaling       countPrimes throughput with the replicas currently registered\n"
    "  fairness      per-replica share of calls per balancer\n"
    "  paused        a replica stopped (SIGSTOP) mid-window, per balancer, hedging\n"
    "                auto and off; hedging's cost with healthy replicas\n"
    "  wait-members  wait until the registry lists N instances of a service\n"
    "  report        summarise --raw records into JSON and Markdown\n";

// Raises the open-file limit to its hard limit: the registry scenario holds
// one connection per watcher.
void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::vector<int> ParseIntList(const std::string& flag, const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const int v = std::stoi(item, &used);
      if (used != item.size() || v < 1 || v > 4096) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw po::error(flag + ": '" + item + "' is not a count 1..4096");
    }
  }
  if (out.empty()) throw po::error(flag + " needs at least one value");
  return out;
}

std::vector<std::string> ParseList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

beacon::Endpoint ParseEndpointOrThrow(const std::string& flag, const std::string& text) {
  auto e = beacon::ParseEndpoint(flag, text, false, "127.0.0.1");
  if (!e.ok()) throw po::error(e.status().message());
  return *e;
}

// Appends `record` as one line to `path` ("-" or empty: stdout).
int Emit(const beacon::Result<json>& record, const std::string& path) {
  if (!record.ok()) {
    std::cerr << "beacon_bench: " << record.status().ToString() << "\n";
    return kExitFailure;
  }
  if (path.empty() || path == "-") {
    std::cout << record->dump() << "\n";
    return 0;
  }
  std::ofstream out(path, std::ios::app);
  out << record->dump() << "\n";
  if (!out) {
    std::cerr << "beacon_bench: cannot append to " << path << "\n";
    return kExitFailure;
  }
  return 0;
}

int Report(const std::string& raw_path, const std::string& json_path,
           const std::string& md_path, const std::string& cdf_path,
           const std::vector<std::string>& meta_items) {
  std::ifstream in(raw_path);
  if (!in) {
    std::cerr << "beacon_bench: cannot read " << raw_path << "\n";
    return kExitFailure;
  }
  std::vector<json> records;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    json r = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (r.is_discarded() || !r.is_object()) {
      std::cerr << "beacon_bench: " << raw_path << ":" << line_no
                << " is not a JSON record\n";
      return kExitFailure;
    }
    records.push_back(std::move(r));
  }
  json meta = json::object();
  meta["cores"] = std::thread::hardware_concurrency();
  {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string l;
    while (std::getline(cpuinfo, l)) {
      if (l.rfind("model name", 0) == 0) {
        meta["cpu"] = l.substr(l.find(':') + 2);
        break;
      }
    }
  }
  meta["compiler"] = std::string("GCC/Clang ") + __VERSION__;
  meta["build_type"] = BEACON_BENCH_BUILD_TYPE;
  meta["load1_end"] = beacon::bench::LoadAverage1();
  for (const std::string& item : meta_items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      std::cerr << "beacon_bench: --meta needs KEY=VALUE, got '" << item << "'\n";
      return kExitUsage;
    }
    meta[item.substr(0, eq)] = item.substr(eq + 1);
  }
  const json report =
      beacon::bench::BuildReport(records, meta, beacon::bench::IssueGoals());
  std::ofstream(json_path) << report.dump(2) << "\n";
  std::ofstream(md_path) << beacon::bench::RenderMarkdown(report);
  if (!cdf_path.empty()) {
    const std::string cdf = beacon::bench::CdfTable(report, 16, "1");
    if (!cdf.empty()) std::ofstream(cdf_path) << cdf;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace beacon::bench;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? kExitUsage : 0;
  }
  const std::string command = argv[1];
  RaiseFileLimit();

  std::string registry = "127.0.0.1:9090", raw, postgres, sqlite_db, replicas, list,
              scratch, label, service;
  std::string json_out, md_out, cdf_out, balancers;
  std::vector<std::string> meta;
  int rep = 1, threads = 0, instances = 0, rounds = 0, count = 0, timeout_ms = 0,
      registry_pid = 0;
  std::string watcher_list;
  std::vector<int> watcher_counts;
  int sessions = 0;
  double warmup_s = 0.5, measure_s = 3, slice_s = 0.5, raw_s = 3, settle_s = 1;
  int pause_pid = 0;
  double pause_s = 3;
  bool no_votes = false;
  uint64_t width = 0;

  po::options_description desc("beacon_bench " + command + " options");
  desc.add_options()("help,h", "show this help");
  const bool measuring = command == "overhead" || command == "voting" ||
                         command == "registry" || command == "scaling" ||
                         command == "fairness" || command == "paused";
  if (measuring || command == "wait-members") {
    desc.add_options()("registry", po::value(&registry)->default_value(registry),
                       "registry HOST:PORT");
  }
  if (measuring) {
    desc.add_options()("rep", po::value(&rep)->default_value(1),
                       "repetition number (1-based; seeds and order)")(
        "warmup-s", po::value(&warmup_s)->default_value(warmup_s),
        "warm-up before each measured load (s)")(
        "measure-s", po::value(&measure_s)->default_value(measure_s),
        "measured time of each load, per side of a comparison (s)")(
        "slice-s", po::value(&slice_s)->default_value(slice_s),
        "the sides of a comparison take turns this long (s)")(
        "raw", po::value(&raw)->default_value("-"),
        "append the record to this file (- for stdout)");
  }
  if (command == "overhead") {
    desc.add_options()("replicas", po::value(&replicas)->required(),
                       "HOST:PORT,... of the replicas (for the plain client)")(
        "sessions", po::value(&list)->default_value("1,4,16,64"),
        "concurrent sessions, comma-separated");
  } else if (command == "voting") {
    desc.add_options()("clients", po::value(&list)->default_value("16,64"),
                       "concurrent clients, comma-separated")(
        "scratch", po::value(&scratch)->required(),
        "directory for the raw-rate database")("raw-s",
                                               po::value(&raw_s)->default_value(raw_s),
                                               "duration of the raw in-process run (s)")(
        "postgres", po::value(&postgres)->default_value(""),
        "the replicas run on this PostgreSQL URI: measure the raw rate there too "
        "(scenario voting_postgres)")(
        "db", po::value(&sqlite_db)->default_value(""),
        "the SQLite file the replicas use: its WAL is watched during the run");
  } else if (command == "registry") {
    desc.add_options()("threads", po::value(&threads)->default_value(16),
                       "threads for lookup vs ping")(
        "instances", po::value(&instances)->default_value(1000),
        "instances registered, heartbeated, deregistered")(
        "watchers", po::value(&watcher_list)->default_value("1000,10000"),
        "waiting watches, one per connection; comma-separated counts, 1..20000 each")(
        "registry-pid", po::value(&registry_pid)->default_value(0),
        "the registry's pid: measure its CPU, RSS and threads from /proc (0: do not)")(
        "rounds", po::value(&rounds)->default_value(3),
        "membership changes the watchers wake for")(
        "settle-s", po::value(&settle_s)->default_value(settle_s),
        "time for the watches to reach the registry (s)");
  } else if (command == "scaling") {
    desc.add_options()("registries", po::value(&list)->required(),
                       "HOST:PORT,... registry k lists k replicas")(
        "sessions", po::value(&sessions)->default_value(8),
        "concurrent sessions (the offered load)")(
        "width", po::value(&width)->default_value(1000000),
        "hi - lo + 1 of each countPrimes call");
  } else if (command == "fairness") {
    desc.add_options()("sessions", po::value(&sessions)->default_value(16),
                       "concurrent sessions")("label",
                                              po::value(&label)->default_value("normal"),
                                              "names the server set-up (normal, slow)")(
        "balancers", po::value(&balancers)->default_value("round-robin,lru,p2c"),
        "balancers to compare");
  } else if (command == "paused") {
    desc.add_options()("sessions", po::value(&sessions)->default_value(16),
                       "concurrent sessions")(
        "balancers", po::value(&balancers)->default_value(""),
        "balancers to run (default: round-robin, lru and p2c when known)")(
        "pause-pid", po::value(&pause_pid)->required(),
        "pid of the replica to stop with SIGSTOP (and resume)")(
        "pause-s", po::value(&pause_s)->default_value(pause_s),
        "how long it stays stopped")("no-votes", po::bool_switch(&no_votes),
                                     "skip the castVote runs");
  } else if (command == "wait-members") {
    desc.add_options()("service", po::value(&service)->default_value("prime"),
                       "service name")("count", po::value(&count)->required(),
                                       "instances to wait for")(
        "timeout-ms", po::value(&timeout_ms)->default_value(10000),
        "give up after this long");
  } else if (command == "report") {
    desc.add_options()("raw", po::value(&raw)->required(), "the records (JSON lines)")(
        "json", po::value(&json_out)->required(), "write the summary here")(
        "md", po::value(&md_out)->required(), "write the Markdown table here")(
        "cdf", po::value(&cdf_out)->default_value(""),
        "write scenario 1's latency CDF (16 sessions) here")(
        "meta", po::value(&meta)->multitoken(),
        "KEY=VALUE facts about the run, shown in the report");
  } else {
    std::cerr << "beacon_bench: unknown command '" << command << "'\n" << kUsage;
    return kExitUsage;
  }

  Common common;
  std::vector<int> levels;
  std::vector<beacon::Endpoint> registries;
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc - 1, argv + 1, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
    if (measuring || command == "wait-members")
      common.registry = ParseEndpointOrThrow("--registry", registry);
    if (command == "scaling") {
      for (const std::string& r : ParseList(list)) {
        registries.push_back(ParseEndpointOrThrow("--registries", r));
      }
      if (registries.empty()) throw po::error("--registries needs at least one address");
    }
    if (measuring) {
      if (rep < 1) throw po::error("--rep must be >= 1");
      if (!(warmup_s >= 0 && warmup_s <= 60 && measure_s > 0 && measure_s <= 600 &&
            slice_s >= 0.01 && slice_s <= measure_s)) {
        throw po::error(
            "--warmup-s must be 0..60, --measure-s more than 0 and at most 600, "
            "--slice-s 0.01..measure-s");
      }
      common.rep = rep;
      common.timing = Timing{warmup_s, measure_s, slice_s};
    }
    if (command == "overhead" || command == "voting")
      levels = ParseIntList(command == "overhead" ? "--sessions" : "--clients", list);
    if (command == "registry") {
      for (const std::string& item : ParseList(watcher_list)) {
        size_t used = 0;
        int v = 0;
        try {
          v = std::stoi(item, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != item.size() || v < 1 || v > 20000) {
          throw po::error("--watchers: '" + item + "' is not a count 1..20000");
        }
        watcher_counts.push_back(v);
      }
      if (watcher_counts.empty()) throw po::error("--watchers needs at least one count");
    }
    if (command == "registry" &&
        (threads < 1 || threads > 1024 || instances < 1 || instances > 100000 ||
         rounds < 1 || rounds > 100 || registry_pid < 0 ||
         !(settle_s >= 0 && settle_s <= 30))) {
      throw po::error(
          "registry: --threads 1..1024, --instances 1..100000, "
          "--rounds 1..100, --settle-s 0..30, --registry-pid >= 0");
    }
    if (command == "paused" && !(pause_s > 0 && pause_s <= 60)) {
      throw po::error("--pause-s must be more than 0 and at most 60");
    }
    if ((command == "scaling" || command == "fairness" || command == "paused") &&
        (sessions < 1 || sessions > 1024)) {
      throw po::error("--sessions must be 1..1024");
    }
    if (command == "scaling" && (width < 1 || width > 10000000)) {
      throw po::error("--width must be 1..10000000");
    }
  } catch (const po::error& e) {
    std::cerr << "beacon_bench " << command << ": " << e.what() << "\n" << desc << "\n";
    return kExitUsage;
  }

  if (command == "overhead") {
    OverheadOptions o;
    o.common = common;
    for (const std::string& r : ParseList(replicas)) {
      auto e = beacon::ParseEndpoint("--replicas", r, false, "127.0.0.1");
      if (!e.ok()) {
        std::cerr << "beacon_bench: " << e.status().message() << "\n";
        return kExitUsage;
      }
      o.replicas.push_back(*e);
    }
    o.sessions = levels;
    return Emit(RunOverhead(o), raw);
  }
  if (command == "voting") {
    VotingOptions o;
    o.common = common;
    o.clients = levels;
    o.scratch_dir = scratch;
    o.raw_s = raw_s;
    o.postgres_uri = postgres;
    o.sqlite_db = sqlite_db;
    return Emit(RunVoting(o), raw);
  }
  if (command == "registry") {
    RegistryOptions o;
    o.common = common;
    o.threads = threads;
    o.instances = instances;
    o.watchers = watcher_counts;
    o.registry_pid = registry_pid;
    o.rounds = rounds;
    o.settle_s = settle_s;
    return Emit(RunRegistry(o), raw);
  }
  if (command == "scaling") {
    ScalingOptions o;
    o.common = common;
    o.registries = registries;
    o.sessions = sessions;
    o.width = width;
    return Emit(RunScaling(o), raw);
  }
  if (command == "fairness") {
    FairnessOptions o;
    o.common = common;
    o.sessions = sessions;
    o.label = label;
    o.balancers = ParseList(balancers);
    return Emit(RunFairness(o), raw);
  }
  if (command == "paused") {
    PausedOptions o;
    o.common = common;
    o.sessions = sessions;
    o.balancers = ParseList(balancers);
    o.pause_pid = pause_pid;
    o.pause_s = pause_s;
    o.votes = !no_votes;
    return Emit(RunPaused(o), raw);
  }
  if (command == "wait-members") {
    const beacon::Status s = WaitForMembers(common.registry, service, count, timeout_ms);
    if (!s.ok()) {
      std::cerr << "beacon_bench: " << s.message() << "\n";
      return kExitFailure;
    }
    return 0;
  }
  return Report(raw, json_out, md_out, cdf_out, meta);
}
