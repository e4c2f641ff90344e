// client_app: Beacon's client. Finds servers through the registry, caches the
// list for its session, balances calls over them and calls them directly.
// Wiring only: global flags, command dispatch, shell, output.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "Prime.h"
#include "Registry.h"
#include "balance/balancer.h"
#include "client/session.h"
#include "commands.h"
#include "load.h"
#include "program/flags.h"
#include "rpc/channel.h"
#include "rpc/replica_connection_pool.h"
#include "rpc/thrift_logging.h"
#include "thrift/protocol/TMultiplexedProtocol.h"

namespace {

using beacon::Result;
using beacon::Status;
using namespace beacon::client_app;

constexpr const char* kUsage =
    "client_app: Beacon's client: discovers servers through the registry, caches them "
    "for\n"
    "the session, balances calls over them and calls them directly.\n\n"
    "Usage: client_app [--registry HOST:PORT[,HOST:PORT...]] [--lb round-robin|lru|p2c]\n"
    "                  [--json] [--timeout-ms N] [--hedge-ms N|auto|off]\n"
    "                  [--cache-dir DIR] COMMAND [ARGS]\n\n"
    "Options:\n"
    "  --registry LIST       the registry, or several equivalent ones separated by\n"
    "                        commas: one is used at a time, the next when it fails\n"
    "                        (env BEACON_REGISTRY; default 127.0.0.1:9090)\n"
    "  --lb POLICY           round-robin (default), lru, or p2c (prefers the\n"
    "                        faster of two random replicas; env BEACON_LB)\n"
    "  --json                one JSON document per command (per line in shell;\n"
    "                        env BEACON_JSON=1)\n"
    "  --timeout-ms N        per-call timeout, default 5000 (env BEACON_TIMEOUT_MS)\n"
    "  --hedge-ms N|auto|off a call not answered within N ms gets a second copy on\n"
    "                        another server, the first answer wins; auto (default)\n"
    "                        follows the session's latency (p99, at least 1 ms);\n"
    "                        at most ~10 % extra calls (env BEACON_HEDGE_MS)\n"
    "  --cache-dir DIR       keep the last server lists here, used when no registry\n"
    "                        answers (env BEACON_CACHE_DIR; default\n"
    "                        $XDG_CACHE_HOME/beacon or ~/.cache/beacon; '' for none)\n"
    "  -h, --help            this help; COMMAND --help for a command's\n"
    "The command line wins over the environment.\n\n"
    "Commands:\n";

struct Globals {
  std::string registry = "127.0.0.1:9090";
  std::string lb = "round-robin";
  bool json = false;
  int timeout_ms = 5000;
  std::string hedge_ms = "auto";
  std::string cache_dir;
};

// --cache-dir when neither the command line nor BEACON_CACHE_DIR sets it:
// $XDG_CACHE_HOME/beacon, else $HOME/.cache/beacon, else none.
std::string DefaultCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg == '/') return std::string(xdg) + "/beacon";
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return std::string(home) + "/.cache/beacon";
  return "";
}

std::string Help() {
  std::string out = kUsage;
  for (const auto& c : Commands()) {
    out += "  " + c.usage +
           std::string(c.usage.size() < 40 ? 40 - c.usage.size() : 1, ' ') + c.summary +
           "\n";
  }
  out +=
      "  shell                                   read commands from stdin, one session\n";
  out +=
      "  load --clients C (--requests N | --duration S) [--mix ...]   load generator\n";
  out +=
      "  probe HOST:PORT registry|replica        exit 0 when the server answers "
      "(healthchecks)\n";
  out +=
      "\nExit codes: 0 ok, 1 the service refused (e.g. not found), 2 usage error,\n"
      "3 no server reachable.\n";
  return out;
}

void Print(const CommandOutput& out, bool json) {
  if (!out.error.ok()) {
    std::cerr << "error: " << out.error.message() << std::endl;
    if (json) {
      std::cout << nlohmann::json{{"error",
                                   {{"code", beacon::StatusCodeName(out.error.code())},
                                    {"message", out.error.message()}}}}
                       .dump()
                << std::endl;
    }
    return;
  }
  if (json) {
    std::cout << out.json.dump() << std::endl;
  } else {
    std::cout << out.text << std::endl;
  }
}

// Session creation deferred until a command needs one.
class LazySession {
 public:
  explicit LazySession(beacon::client::SessionOptions options)
      : options_(std::move(options)) {}
  Result<beacon::client::Session*> Get() {
    if (!session_) {
      auto created = beacon::client::Session::Create(options_);
      if (!created.ok()) return created.status();
      session_ = std::move(created).value();
    }
    return session_.get();
  }

 private:
  beacon::client::SessionOptions options_;
  std::unique_ptr<beacon::client::Session> session_;
};

CommandOutput Probe(const std::vector<std::string>& args, int timeout_ms) {
  auto ep = beacon::ParseEndpoint("HOST:PORT", args[0]);
  if (!ep.ok()) return UsageFailure(ep.status());
  if (args[1] != "registry" && args[1] != "replica") {
    return UsageFailure(
        beacon::InvalidArgument("probe KIND must be registry or replica"));
  }
  beacon::rpc::ClientOptions options;
  options.call_timeout_ms = timeout_ms;
  options.connect_timeout_ms = std::min(timeout_ms, 1000);
  auto ch = beacon::rpc::Channel::Open(*ep, options);
  if (!ch.ok()) return Failure(ch.status());
  std::string answer = "ok";
  auto r = beacon::rpc::InvokeRpc<bool, beacon::idl::RegistryError>(*ep, [&] {
    if (args[1] == "registry") {
      beacon::idl::RegistryClient((*ch)->protocol()).ping();
    } else {
      beacon::rpc::ReplicaConnection conn(std::move(*ch));
      conn.prime().ping(answer);
    }
    return true;
  });
  if (!r.result.ok()) return Failure(r.result.status());
  CommandOutput out;
  out.json = {{"address", ep->ToString()}, {"kind", args[1]}, {"answer", answer}};
  out.text = ep->ToString() + " answers (" + answer + ")";
  return out;
}

// Runs one command line (already split); `sessions` is shared in shell mode.
int RunCommand(const std::vector<std::string>& words, LazySession& session,
               const Globals& g, const beacon::client::SessionOptions& session_options) {
  const std::string& name = words[0];
  const std::vector<std::string> args(words.begin() + 1, words.end());
  const bool wants_help = !args.empty() && (args[0] == "--help" || args[0] == "-h");
  if (name == "help") {
    std::cout << Help();
    return kExitOk;
  }
  if (name == "load") {
    if (wants_help) {
      std::cout << kLoadUsage << "\n";
      return kExitOk;
    }
    auto options = ParseLoadArgs(args);
    if (!options.ok()) {
      std::cerr << "error: " << options.status().message() << "\nusage: " << kLoadUsage
                << "\n";
      return kExitUsage;
    }
    options->progress = !g.json && ::isatty(2);
    const CommandOutput out = RunLoad(*options, session_options);
    Print(out, g.json);
    return out.exit_code;
  }
  if (name == "probe") {
    if (wants_help || args.size() != 2) {
      (wants_help ? std::cout : std::cerr) << "usage: probe HOST:PORT registry|replica  "
                                              "(exit 0 when the server answers)\n";
      return wants_help ? kExitOk : kExitUsage;
    }
    const CommandOutput out = Probe(args, g.timeout_ms);
    Print(out, g.json);
    return out.exit_code;
  }
  const CommandSpec* spec = FindCommand(name);
  if (spec == nullptr) {
    std::cerr << "error: unknown command '" << name << "' (see client_app --help)\n";
    return kExitUsage;
  }
  if (wants_help) {
    std::cout << "usage: " << spec->usage << "\n"
              << spec->summary << ".\n"
              << spec->details << "\n";
    return kExitOk;
  }
  const int n = static_cast<int>(args.size());
  if (n < spec->min_args || (spec->max_args >= 0 && n > spec->max_args)) {
    std::cerr << "error: wrong number of arguments\nusage: " << spec->usage << "\n";
    return kExitUsage;
  }
  const CommandOutput out = spec->run(args, [&session] { return session.Get(); });
  Print(out, g.json);
  return out.exit_code;
}

int Shell(LazySession& session, const Globals& g,
          const beacon::client::SessionOptions& session_options) {
  const bool interactive = ::isatty(0);
  std::string line;
  int last = kExitOk;
  while (true) {
    if (interactive) std::cerr << "beacon> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    auto words = SplitWords(line);
    if (!words.ok()) {
      std::cerr << "error: " << words.status().message() << "\n";
      last = kExitUsage;
      continue;
    }
    if (words->empty() || (*words)[0][0] == '#') continue;
    if ((*words)[0] == "exit" || (*words)[0] == "quit") break;
    if ((*words)[0] == "shell") {
      std::cerr << "error: already in a shell\n";
      continue;
    }
    last = RunCommand(*words, session, g, session_options);
  }
  return last;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  beacon::rpc::RouteThriftOutputToDebugLog();
  // Global flags come before the command; everything after it is the
  // command's. Each flag can also come from its BEACON_* variable; the command
  // line wins.
  namespace po = boost::program_options;
  Globals g;
  po::options_description desc("client_app");
  desc.add_options()("help,h", "this help")(
      "registry", po::value(&g.registry)->default_value(g.registry),
      "the registry HOST:PORT")("lb", po::value(&g.lb)->default_value(g.lb),
                                "round-robin, lru or p2c")(
      "json", po::bool_switch(&g.json), "one JSON document per command")(
      "timeout-ms", po::value(&g.timeout_ms)->default_value(g.timeout_ms),
      "per-call timeout")("hedge-ms", po::value(&g.hedge_ms)->default_value(g.hedge_ms),
                          "hedge delay: N ms, auto or off")(
      "cache-dir", po::value(&g.cache_dir), "server snapshot directory ('' for none)");
  po::variables_map vm;
  int i = 0;
  if (beacon::Status s =
          beacon::program::ParseFlagsBeforeCommand(argc, argv, desc, &vm, &i);
      !s.ok()) {
    std::cerr << "error: " << s.message() << " (see client_app --help)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << Help();
    return kExitOk;
  }
  if (i >= argc) {
    std::cerr << Help();
    return kExitUsage;
  }
  auto registries = beacon::ParseEndpointList("--registry", g.registry);
  if (!registries.ok()) {
    std::cerr << "error: " << registries.status().message() << "\n";
    return kExitUsage;
  }
  // Given as '' on the command line: no snapshot. Absent (an empty
  // BEACON_CACHE_DIR counts as absent): the default directory.
  if (vm.count("cache-dir") == 0) g.cache_dir = DefaultCacheDir();
  if (!beacon::balance::MakeBalancer(g.lb).ok()) {
    std::cerr << "error: --lb must be one of:";
    for (const auto& n : beacon::balance::BalancerNames()) std::cerr << " " << n;
    std::cerr << "; got '" << g.lb << "'\n";
    return kExitUsage;
  }
  if (g.timeout_ms < 1 || g.timeout_ms > 600000) {
    std::cerr << "error: --timeout-ms must be 1..600000\n";
    return kExitUsage;
  }
  auto hedge = beacon::client::ParseHedgeMs(g.hedge_ms);
  if (!hedge.ok()) {
    std::cerr << "error: " << hedge.status().message() << "\n";
    return kExitUsage;
  }
  beacon::client::SessionOptions session_options;
  session_options.hedge = *hedge;
  session_options.registries = *registries;
  session_options.cache_dir = g.cache_dir;
  session_options.warn = [](const std::string& warning) {
    std::cerr << "warning: " << warning << std::endl;
  };
  session_options.balancer = g.lb;
  session_options.timeout_ms = g.timeout_ms;
  LazySession session(session_options);

  const std::vector<std::string> words(argv + i, argv + argc);
  if (words[0] == "shell") {
    if (words.size() > 1 && (words[1] == "--help" || words[1] == "-h")) {
      std::cout << "usage: shell\nReads commands from stdin, one per line, in one "
                   "session (one\n"
                   "cache, one balancer); `servers` shows the session's state; exit or "
                   "EOF ends.\n";
      return kExitOk;
    }
    return Shell(session, g, session_options);
  }
  return RunCommand(words, session, g, session_options);
}
