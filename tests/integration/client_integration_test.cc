// The client against a real registry and real replicas on loopback: one
// lookup per service per session, even spreads under both balancers, failover
// when a replica is SIGKILLed, working from the cache when the registry dies,
// concurrent load with every vote counted once, and the command line's exit
// codes, error lines and verbatim text.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "Prime.h"
#include "Voting.h"
#include "client/session.h"
#include "cluster_fixture.h"
#include "rpc/thrift_logging.h"

extern char** environ;

namespace beacon {
namespace {

using nlohmann::json;
using testing::Cluster;
using testing::TempDir;
using testing::WaitUntil;

constexpr int kReplicas = 3;

// ---------------------------------------------------------------------------
// Helpers

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) lines.push_back(line);
  return lines;
}

// Parses one JSON document per line; a line that is not JSON fails the test
// and is returned as a string value.
std::vector<json> Documents(const std::string& text) {
  std::vector<json> docs;
  for (const auto& line : Lines(text)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "not a JSON line: " << line;
      j = line;
    }
    docs.push_back(std::move(j));
  }
  return docs;
}

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

struct ClientRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs client_app --registry `registry` ARGS with `stdin_text` on stdin,
// stdout and stderr kept apart, its server snapshot in dir/cache (never the
// user's). Bounded: killed after 60 s.
ClientRun RunClientApp(const TempDir& dir, const std::string& registry,
                       const std::vector<std::string>& args,
                       const std::string& stdin_text = "") {
  static int runs = 0;
  const std::string base = dir.File("app" + std::to_string(runs++));
  { std::ofstream(base + ".in") << stdin_text; }
  std::string cmd = "BEACON_CACHE_DIR=" + ShellQuote(dir.File("cache")) +
                    " timeout -s KILL 60 " + std::string(BEACON_CLIENT_APP);
  if (!registry.empty()) cmd += " --registry " + ShellQuote(registry);
  for (const auto& a : args) cmd += " " + ShellQuote(a);
  cmd += " <" + base + ".in >" + base + ".out 2>" + base + ".err";
  const int rc = std::system(cmd.c_str());
  ClientRun run;
  run.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  run.out = ReadFile(base + ".out");
  run.err = ReadFile(base + ".err");
  return run;
}

ClientRun RunClientApp(Cluster& cluster, const std::vector<std::string>& args,
                       const std::string& stdin_text = "") {
  return RunClientApp(cluster.dir(), cluster.registry().address(), args, stdin_text);
}

// client_app running `shell` with a pipe on stdin and stdout, so a test can
// act between two commands. SIGKILLed and reaped on destruction.
class ShellProcess {
 public:
  ShellProcess(const std::vector<std::string>& args, const std::string& stderr_path) {
    ::signal(SIGPIPE, SIG_IGN);  // a dead client must fail Send, not kill the test
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe failed";
      return;
    }
    std::vector<std::string> argv_s = {BEACON_CLIENT_APP};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    to_child_ = in[1];
    from_child_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      ADD_FAILURE() << "cannot start client_app";
    }
  }

  ~ShellProcess() {
    CloseInput();
    if (from_child_ >= 0) ::close(from_child_);
    if (pid_ > 0 && !Wait(0)) {
      ::kill(pid_, SIGKILL);
      Wait(10000);
    }
  }

  bool Send(const std::string& line) {
    const std::string data = line + "\n";
    return to_child_ >= 0 && ::write(to_child_, data.data(), data.size()) ==
                                 static_cast<ssize_t>(data.size());
  }

  // The next line of stdout, or nullopt at EOF or after timeout_ms.
  std::optional<std::string> ReadLine(int timeout_ms) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return std::nullopt;
      pollfd p{from_child_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(from_child_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  void CloseInput() {
    if (to_child_ >= 0) ::close(to_child_);
    to_child_ = -1;
  }

  // The exit code once it exited within timeout_ms.
  std::optional<int> Wait(int timeout_ms) {
    if (exit_code_) return exit_code_;
    const bool done = WaitUntil(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
          exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        },
        timeout_ms, 5);
    return done ? exit_code_ : std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
  std::optional<int> exit_code_;
};

// Every process of the cluster is up and registered under both services.
::testing::AssertionResult Ready(Cluster& cluster, size_t replicas) {
  if (!cluster.registry().ok()) return ::testing::AssertionFailure() << "registry not up";
  for (auto& r : cluster.replicas()) {
    if (!r->ok()) return ::testing::AssertionFailure() << "a replica did not start";
  }
  for (const char* service : {"prime", "voting"}) {
    if (!cluster.WaitForInstances(service, replicas)) {
      return ::testing::AssertionFailure() << service << " never listed " << replicas;
    }
  }
  return ::testing::AssertionSuccess();
}

std::set<std::string> ReplicaIds(Cluster& cluster) {
  std::set<std::string> ids;
  for (auto& r : cluster.replicas()) ids.insert(r->id());
  return ids;
}

// Makes `calls` prime calls; every one must succeed. served_by -> count.
std::map<std::string, int> PrimeCalls(client::Session& session, int calls,
                                      int64_t first_n) {
  std::map<std::string, int> spread;
  for (int i = 0; i < calls; ++i) {
    auto r = session.IsPrime(first_n + i);
    EXPECT_TRUE(r.ok()) << "call " << i << ": " << r.status().ToString();
    if (r.ok()) ++spread[r->served_by];
  }
  return spread;
}

bool IsPrimeByTrialDivision(int64_t n) {
  if (n < 2) return false;
  for (int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

const discovery::InstanceView* FindInstance(const discovery::ServiceView& view,
                                            const std::string& id) {
  for (const auto& i : view.instances) {
    if (i.instance.id == id) return &i;
  }
  return nullptr;
}

const json* FindService(const json& servers, const std::string& name) {
  for (const auto& s : servers.at("services")) {
    if (s.at("service_name") == name) return &s;
  }
  return nullptr;
}

std::string PolicyName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param == "round-robin" ? "RoundRobin" : "LeastRecentlyUsed";
}

// ---------------------------------------------------------------------------
// One shell session: one lookup per service, an even spread.

class ClientShellPolicy : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientShellPolicy, ThirtyPrimeCallsMakeOneLookupAndSpreadTenTenTen) {
  Cluster cluster(kReplicas);
  ASSERT_TRUE(Ready(cluster, kReplicas));
  std::string script;
  for (int i = 0; i < 30; ++i) script += "prime " + std::to_string(1000 + i) + "\n";
  script += "servers prime\n";

  // Hedging off: a copy slower than the hedge delay (a loaded machine) would
  // send a hedge elsewhere and bend the rotation this test counts.
  const ClientRun run = RunClientApp(
      cluster, {"--json", "--lb", GetParam(), "--hedge-ms", "off", "shell"}, script);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  const std::vector<json> docs = Documents(run.out);
  ASSERT_EQ(docs.size(), 31u) << run.out;

  std::map<std::string, int> served_by;
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(docs[i].at("n"), 1000 + i);
    EXPECT_EQ(docs[i].at("is_prime"), IsPrimeByTrialDivision(1000 + i)) << docs[i];
    ++served_by[docs[i].at("served_by").get<std::string>()];
  }
  std::map<std::string, int> expected;
  for (const auto& id : ReplicaIds(cluster)) expected[id] = 10;
  EXPECT_EQ(served_by, expected);

  const json& servers = docs[30];
  EXPECT_EQ(servers.at("registry_lookups"), 1) << servers;
  const json* prime = FindService(servers, "prime");
  ASSERT_NE(prime, nullptr) << servers;
  EXPECT_EQ(prime->at("registry_lookups"), 1);
  EXPECT_EQ(prime->at("balancer"), GetParam());
  std::map<std::string, int> calls;
  for (const auto& i : prime->at("instances")) {
    calls[i.at("id").get<std::string>()] = i.at("calls").get<int>();
    EXPECT_EQ(i.at("down"), false);
    EXPECT_EQ(i.at("failures"), 0);
  }
  EXPECT_EQ(calls, expected);
}

INSTANTIATE_TEST_SUITE_P(BothPolicies, ClientShellPolicy,
                         ::testing::Values("round-robin", "lru"), PolicyName);

TEST(ClientShell, SessionUsingPrimeAndVotingLooksUpEachServiceOnce) {
  Cluster cluster(kReplicas);
  ASSERT_TRUE(Ready(cluster, kReplicas));
  const ClientRun created =
      RunClientApp(cluster, {"--json", "create-poll", "Lunch?", "pizza", "soup"});
  ASSERT_EQ(created.code, 0) << created.err;
  const int64_t poll = json::parse(created.out).at("poll").at("poll_id").get<int64_t>();

  const std::string p = std::to_string(poll);
  std::string script;
  for (int i = 0; i < 10; ++i) {
    script += "prime " + std::to_string(7 + i) + "\n";
    script += "vote " + p + " voter" + std::to_string(i) + " " +
              (i % 3 ? "pizza" : "soup") + "\n";
  }
  script += "results " + p + "\npolls\nservers\n";
  const ClientRun run = RunClientApp(cluster, {"--json", "shell"}, script);
  ASSERT_EQ(run.code, 0) << run.err;
  const std::vector<json> docs = Documents(run.out);
  ASSERT_EQ(docs.size(), 23u) << run.out;
  EXPECT_EQ(docs[20].at("total"), 10) << docs[20];

  const json& servers = docs[22];
  EXPECT_EQ(servers.at("registry_lookups"), 2) << servers;
  ASSERT_EQ(servers.at("services").size(), 2u) << servers;
  for (const char* service : {"prime", "voting"}) {
    const json* s = FindService(servers, service);
    ASSERT_NE(s, nullptr) << service;
    EXPECT_EQ(s->at("registry_lookups"), 1) << service;
    EXPECT_EQ(s->at("instances").size(), static_cast<size_t>(kReplicas)) << service;
  }
}

// ---------------------------------------------------------------------------
// A replica SIGKILLed in the middle of a session.

class ClientReplicaKilled : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientReplicaKilled, NoCallFailsAndTheDeadReplicaIsNotPickedAgain) {
  Cluster cluster(kReplicas, {"--lease-ttl-ms", "2000"});
  ASSERT_TRUE(Ready(cluster, kReplicas));
  auto session = NewSession(cluster, GetParam());
  ASSERT_NE(session, nullptr);

  const std::map<std::string, int> before = PrimeCalls(*session, 30, 2000);
  EXPECT_EQ(before.size(), 3u);
  for (const auto& [id, n] : before) EXPECT_EQ(n, 10) << id;

  testing::ReplicaProcess& victim = *cluster.replicas()[1];
  ASSERT_TRUE(victim.process().Signal(SIGKILL));
  ASSERT_TRUE(victim.process().WaitForExit(5000).has_value());

  // The first call that reaches the corpse is retried elsewhere; the corpse is
  // then marked down and skipped.
  const std::map<std::string, int> after = PrimeCalls(*session, 30, 3000);
  EXPECT_EQ(after.count(victim.id()), 0u);
  int total = 0;
  for (const auto& [id, n] : after) total += n;
  EXPECT_EQ(total, 30);
  EXPECT_EQ(session->retries(), 1);
  const discovery::ServiceView marked = session->cache().View("prime");
  // Its lease (2 s) has not run out yet: still listed, but down after exactly
  // one failed attempt.
  const discovery::InstanceView* dead = FindInstance(marked, victim.id());
  ASSERT_NE(dead, nullptr);
  EXPECT_TRUE(dead->down);
  EXPECT_GT(dead->down_remaining_ms, 0);
  EXPECT_EQ(dead->failures, 1);

  // Its lease runs out and the session's list loses it.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return FindInstance(session->cache().View("prime"), victim.id()) == nullptr;
      },
      5000))
      << "the dead replica is still cached";
  EXPECT_EQ(session->cache().View("prime").instances.size(), 2u);

  // Two live replicas left: an even spread over them, still no failure.
  const std::map<std::string, int> later = PrimeCalls(*session, 30, 4000);
  EXPECT_EQ(later.count(victim.id()), 0u);
  EXPECT_EQ(later.size(), 2u);
  for (const auto& [id, n] : later) EXPECT_EQ(n, 15) << id;
  EXPECT_EQ(session->retries(), 1);
}

INSTANTIATE_TEST_SUITE_P(BothPolicies, ClientReplicaKilled,
                         ::testing::Values("round-robin", "lru"), PolicyName);

TEST(ClientShell, UserSeesNoErrorWhenAReplicaIsKilledMidSession) {
  Cluster cluster(kReplicas, {"--lease-ttl-ms", "2000"});
  ASSERT_TRUE(Ready(cluster, kReplicas));
  const std::string err_path = cluster.dir().File("shell.err");
  ShellProcess shell({"--registry", cluster.registry().address(), "--cache-dir",
                      cluster.dir().File("cache"), "--json", "shell"},
                     err_path);

  auto exchange = [&](int calls, int64_t first_n) {
    std::map<std::string, int> spread;
    for (int i = 0; i < calls; ++i) {
      EXPECT_TRUE(shell.Send("prime " + std::to_string(first_n + i)));
      const std::optional<std::string> line = shell.ReadLine(10000);
      EXPECT_TRUE(line.has_value())
          << "no reply to call " << i << "; stderr: " << ReadFile(err_path);
      if (!line) break;
      const json doc = json::parse(*line, nullptr, false);
      EXPECT_TRUE(doc.contains("served_by")) << *line;
      if (doc.contains("served_by")) ++spread[doc.at("served_by").get<std::string>()];
    }
    return spread;
  };

  EXPECT_EQ(exchange(30, 5000).size(), 3u);
  testing::ReplicaProcess& victim = *cluster.replicas()[0];
  ASSERT_TRUE(victim.process().Signal(SIGKILL));
  ASSERT_TRUE(victim.process().WaitForExit(5000).has_value());
  const std::map<std::string, int> after = exchange(30, 6000);
  EXPECT_EQ(after.count(victim.id()), 0u);
  EXPECT_EQ(after.size(), 2u);

  ASSERT_TRUE(shell.Send("servers prime"));
  const std::optional<std::string> servers_line = shell.ReadLine(10000);
  ASSERT_TRUE(servers_line.has_value());
  const json servers = json::parse(*servers_line);
  for (const auto& i : servers.at("services").at(0).at("instances")) {
    if (i.at("id") != victim.id()) continue;
    EXPECT_EQ(i.at("down"), true) << i;
    EXPECT_EQ(i.at("failures"), 1) << i;
  }
  shell.CloseInput();
  EXPECT_EQ(shell.Wait(10000), std::optional<int>(0));
  EXPECT_EQ(ReadFile(err_path), "") << "the user saw an error";
}

// ---------------------------------------------------------------------------
// The registry SIGKILLed.

TEST(ClientRegistryKilled, SessionKeepsCallingFromItsCache) {
  Cluster cluster(kReplicas);
  ASSERT_TRUE(Ready(cluster, kReplicas));
  auto session = NewSession(cluster, "round-robin");
  ASSERT_NE(session, nullptr);
  auto poll = session->CreatePoll("Registry down?", {"yes", "no"}, "");
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  const int64_t poll_id = poll->poll.poll_id;
  EXPECT_EQ(PrimeCalls(*session, 30, 100).size(), 3u);

  ASSERT_TRUE(cluster.registry().process().Signal(SIGKILL));
  ASSERT_TRUE(cluster.registry().process().WaitForExit(5000).has_value());

  const auto start = std::chrono::steady_clock::now();
  const std::map<std::string, int> after = PrimeCalls(*session, 30, 200);
  for (int i = 0; i < 6; ++i) {
    auto v =
        session->CastVote(poll_id, "voter" + std::to_string(i), i % 2 ? "yes" : "no");
    EXPECT_TRUE(v.ok()) << v.status().ToString();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Still the three cached replicas, evenly; the dead registry never held a
  // call up (36 calls on loopback take milliseconds).
  EXPECT_EQ(after.size(), 3u);
  for (const auto& [id, n] : after) EXPECT_EQ(n, 10) << id;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_EQ(session->retries(), 0);

  auto results = session->Results(poll_id);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  EXPECT_EQ(results->total, 6);
  EXPECT_EQ(session->cache().View("prime").instances.size(), 3u);
}

TEST(ClientRegistryKilled, NewSessionFailsWithAClearError) {
  Cluster cluster(kReplicas);
  ASSERT_TRUE(Ready(cluster, kReplicas));
  const std::string address = cluster.registry().address();
  ASSERT_TRUE(cluster.registry().process().Signal(SIGKILL));
  ASSERT_TRUE(cluster.registry().process().WaitForExit(5000).has_value());
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->process().Running());

  auto session = NewSession(cluster, "round-robin");
  ASSERT_NE(session, nullptr);
  auto r = session->IsPrime(7);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message().rfind(
                "registry " + address + " unreachable and no cached servers", 0),
            0u)
      << r.status().message();

  const ClientRun run = RunClientApp(cluster, {"prime", "7"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err.rfind(
                "error: registry " + address + " unreachable and no cached servers", 0),
            0u)
      << run.err;
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
}

// ---------------------------------------------------------------------------
// Concurrent load.

class ClientLoad : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientLoad, EightClientsMakeNoErrorsAndEveryVoteIsCountedOnce) {
  Cluster cluster(kReplicas);
  ASSERT_TRUE(Ready(cluster, kReplicas));
  const ClientRun run =
      RunClientApp(cluster, {"--json", "--lb", GetParam(), "load", "--clients", "8",
                             "--requests", "2000", "--mix", "prime=2,vote=1"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const json report = json::parse(run.out);
  EXPECT_EQ(report.at("balancer"), GetParam());
  EXPECT_EQ(report.at("failed"), 0) << report;
  EXPECT_EQ(report.at("ok"), 2000);
  EXPECT_TRUE(report.at("errors").empty()) << report;
  EXPECT_EQ(report.at("retries"), 0);
  // Each of the 8 sessions looked each service up at most once.
  EXPECT_GE(report.at("registry_lookups").get<int>(), 1);
  EXPECT_LE(report.at("registry_lookups").get<int>(), 16);

  std::set<std::string> replicas;
  int64_t calls = 0;
  for (const auto& [id, n] : report.at("calls_per_replica").items()) {
    replicas.insert(id);
    calls += n.get<int64_t>();
    // 8 balanced sessions over 3 replicas: nowhere near all on one.
    EXPECT_GT(n.get<int64_t>(), 400) << id;
  }
  EXPECT_EQ(replicas, ReplicaIds(cluster));
  EXPECT_EQ(calls, 2000);

  const int64_t acknowledged = report.at("votes_acknowledged").get<int64_t>();
  EXPECT_GT(acknowledged, 0);
  const ClientRun results = RunClientApp(
      cluster,
      {"--json", "results", std::to_string(report.at("poll_id").get<int64_t>())});
  ASSERT_EQ(results.code, 0) << results.err;
  const json counted = json::parse(results.out);
  EXPECT_EQ(counted.at("total").get<int64_t>(), acknowledged);
  int64_t by_option = 0;
  for (const auto& c : counted.at("counts")) by_option += c.at("votes").get<int64_t>();
  EXPECT_EQ(by_option, acknowledged);
}

INSTANTIATE_TEST_SUITE_P(BothPolicies, ClientLoad,
                         ::testing::Values("round-robin", "lru"), PolicyName);

// ---------------------------------------------------------------------------
// The command line.

// A registry address where nothing listens: a command that reached for the
// network would exit 3, not 2. The port stays held (bound, not listening)
// for the whole run, so no server started by another test can take it.
std::string DeadRegistry() {
  static const testing::RefusingPort port;
  EXPECT_GT(port.port(), 0);
  return port.address();
}

TEST(ClientCli, UsageErrorsExitTwoWithoutTouchingTheNetwork) {
  TempDir dir;
  const std::vector<std::vector<std::string>> bad = {
      {"prime", "abc"},
      {"prime", "-1"},
      {"prime", "18446744073709551616"},
      {"count-primes", "10"},
      {"vote", "x", "alice", "red"},
      {"vote", "0", "alice", "red"},
      {"results"},
      {"results", "1", "2"},
      {"create-poll", "only one option", "a"},
      {"polls", "0"},
      {"frobnicate"},
      {"load", "--clients", "0", "--requests", "10"},
      {"load", "--clients", "2"},
      {"--lb", "random", "prime", "7"},
      {"--timeout-ms", "0", "prime", "7"},
      {"--no-such-flag", "prime", "7"},
      {},
  };
  const std::string registry = DeadRegistry();
  for (const auto& args : bad) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    const ClientRun run = RunClientApp(dir, registry, args);
    EXPECT_EQ(run.code, 2) << shown << "\n" << run.err;
    EXPECT_EQ(run.out, "") << shown;
    EXPECT_FALSE(run.err.empty()) << shown;
  }
}

TEST(ClientCli, UsageErrorLineNamesTheBadArgument) {
  TempDir dir;
  const ClientRun run = RunClientApp(dir, DeadRegistry(), {"prime", "abc"});
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(Lines(run.err).at(0),
            "error: N must be a whole number from 0 to 18446744073709551615, got 'abc'");
}

TEST(ClientCli, ServiceErrorExitsOneWithOneErrorLine) {
  Cluster cluster(1);
  ASSERT_TRUE(Ready(cluster, 1));
  const ClientRun run = RunClientApp(cluster, {"results", "7"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "error: poll 7 not found\n");
}

TEST(ClientCli, JsonErrorIsADocumentWithCodeAndMessage) {
  Cluster cluster(1);
  ASSERT_TRUE(Ready(cluster, 1));
  const ClientRun run = RunClientApp(cluster, {"--json", "results", "7"});
  EXPECT_EQ(run.code, 1);
  const std::vector<json> docs = Documents(run.out);
  ASSERT_EQ(docs.size(), 1u) << run.out;
  EXPECT_EQ(docs[0],
            (json{{"error", {{"code", "not_found"}, {"message", "poll 7 not found"}}}}));
  EXPECT_EQ(run.err, "error: poll 7 not found\n");
}

TEST(ClientCli, UnreachableRegistryExitsThreeNamingTheRegistry) {
  TempDir dir;
  const std::string registry = DeadRegistry();
  const ClientRun run = RunClientApp(dir, registry, {"prime", "7"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_EQ(run.err.rfind(
                "error: registry " + registry + " unreachable and no cached servers", 0),
            0u)
      << run.err;

  const ClientRun json_run = RunClientApp(dir, registry, {"--json", "prime", "7"});
  EXPECT_EQ(json_run.code, 3);
  const json doc = json::parse(json_run.out);
  EXPECT_EQ(doc.at("error").at("code"), "unavailable");
}

TEST(ClientCli, LoadWhoseEveryFailureIsUnavailableExitsThreeWithItsReport) {
  TempDir dir;
  const ClientRun run = RunClientApp(
      dir, DeadRegistry(), {"--json", "load", "--clients", "2", "--requests", "6"});
  EXPECT_EQ(run.code, 3) << run.out << run.err;
  const json report = json::parse(run.out);
  EXPECT_EQ(report.at("ok"), 0);
  EXPECT_EQ(report.at("failed"), 6);
  EXPECT_EQ(report.at("errors"), (json{{"unavailable", 6}}));
}

TEST(ClientCli, HelpOnTheProgramAndOnEveryCommandExitsZero) {
  TempDir dir;
  const std::string registry = DeadRegistry();
  const ClientRun program = RunClientApp(dir, registry, {"--help"});
  EXPECT_EQ(program.code, 0);
  EXPECT_NE(program.out.find("Usage: client_app"), std::string::npos) << program.out;
  EXPECT_EQ(program.err, "");
  for (const char* command :
       {"prime", "count-primes", "create-poll", "vote", "results", "polls", "close-poll",
        "servers", "shell", "load", "probe"}) {
    EXPECT_NE(program.out.find(std::string("  ") + command + " "), std::string::npos)
        << command;
    for (const char* flag : {"--help", "-h"}) {
      const ClientRun run = RunClientApp(dir, registry, {command, flag});
      EXPECT_EQ(run.code, 0) << command << " " << flag << ": " << run.err;
      EXPECT_NE(run.out.find(command), std::string::npos) << command << ": " << run.out;
      EXPECT_EQ(run.err, "") << command;
    }
  }
}

TEST(ClientCli, NonAsciiAndSqlMetacharactersRoundTripVerbatim) {
  Cluster cluster(kReplicas);
  ASSERT_TRUE(Ready(cluster, kReplicas));
  const std::string question =
      "Robert'); DROP TABLE votes;-- ¿Qué tal? 日本語 🎉 \"quoted\" \\";
  const std::vector<std::string> options = {"naïve café", "O'Brien; DELETE FROM polls",
                                            "50% _wild_ %", "\" OR 1=1 --"};
  const std::string voter = "vöter'--\"; SELECT *";

  std::vector<std::string> args = {"--json", "create-poll", question};
  args.insert(args.end(), options.begin(), options.end());
  const ClientRun created = RunClientApp(cluster, args);
  ASSERT_EQ(created.code, 0) << created.err;
  const json poll = json::parse(created.out).at("poll");
  EXPECT_EQ(poll.at("question"), question);
  EXPECT_EQ(poll.at("options"), json(options));
  const std::string id = std::to_string(poll.at("poll_id").get<int64_t>());

  const ClientRun voted =
      RunClientApp(cluster, {"--json", "vote", id, voter, options[1]});
  ASSERT_EQ(voted.code, 0) << voted.err;
  const json receipt = json::parse(voted.out);
  EXPECT_EQ(receipt.at("voter_id"), voter);
  EXPECT_EQ(receipt.at("option"), options[1]);

  // Read back through every replica (results rotate over them).
  for (int i = 0; i < kReplicas; ++i) {
    const ClientRun results = RunClientApp(cluster, {"--json", "results", id});
    ASSERT_EQ(results.code, 0) << results.err;
    const json r = json::parse(results.out);
    EXPECT_EQ(r.at("poll").at("question"), question);
    EXPECT_EQ(r.at("total"), 1);
    ASSERT_EQ(r.at("counts").size(), options.size());
    for (size_t o = 0; o < options.size(); ++o) {
      EXPECT_EQ(r.at("counts")[o].at("option"), options[o]);
      EXPECT_EQ(r.at("counts")[o].at("votes"), o == 1 ? 1 : 0);
    }
  }
  const ClientRun listed = RunClientApp(cluster, {"--json", "polls"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out).at("polls").at(0).at("question"), question);

  // Plain text carries the same bytes.
  const ClientRun text = RunClientApp(cluster, {"results", id});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find(question), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(options[1] + ": 1"), std::string::npos) << text.out;
}

TEST(ClientCli, ShellQuotingReachesTheServiceVerbatim) {
  Cluster cluster(1);
  ASSERT_TRUE(Ready(cluster, 1));
  const ClientRun run = RunClientApp(cluster, {"--json", "shell"},
                                     "create-poll \"Où dîne-t-on? \\\"ce soir\\\"\" "
                                     "'chez l''ami' plain\\ word \"a;b\" ''x\n");
  ASSERT_EQ(run.code, 0) << run.err;
  const json poll = json::parse(run.out).at("poll");
  EXPECT_EQ(poll.at("question"), "Où dîne-t-on? \"ce soir\"");
  EXPECT_EQ(poll.at("options"), (json{"chez lami", "plain word", "a;b", "x"}));
}

}  // namespace
}  // namespace beacon
