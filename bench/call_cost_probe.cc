// call_cost_probe: one client thread making a fixed number of isPrime calls
// on one path of scenario 1 (bench/overhead_scenario.cc), so that a profiler
// or a tracer around the whole process sees just that path:
//   plain   the baseline (PlainPrimeWorker: one connection per replica,
//           round-robin, framed/binary, multiplexed "prime")
//   beacon  client::SessionLoadWorker on a client::Session (round-robin)
// It makes --warmup calls, then --calls calls, and prints the thread's user
// and system CPU time per call of the second part. Per-call counts from
// callgrind, strace -c or perf come from two runs with different --calls
// (the difference cancels start-up and warm-up).
// Both paths run in a multi-threaded process, as in bench/run (where the
// load engine's threads and Beacon's watch threads share it): glibc skips
// the cancellation bookkeeping of recv/send (about 140 instructions a call)
// only while a process has one thread, which made a plain probe, alone in
// its process, look cheaper than the same client in the benchmark.
//   call_cost_probe --path beacon --registry 127.0.0.1:P --replicas A,B,C
//                   [--calls N] [--warmup N] [--hedge-ms off|auto|MS]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "client/load_operations.h"
#include "core/endpoint.h"
#include "scenario_support.h"
#include "workers.h"

namespace {

double ThreadCpuMicros(bool user) {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  const timeval& t = user ? u.ru_utime : u.ru_stime;
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "call_cost_probe: %s\nusage: call_cost_probe --path plain|beacon "
               "--registry HOST:PORT --replicas A,B,... [--calls N] [--warmup N] "
               "[--hedge-ms off|auto|MS]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace beacon;
  std::string path;
  std::string registry;
  std::string replicas;
  std::string hedge = "auto";
  long calls = 20000;
  long warmup = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--path") {
      path = value;
    } else if (flag == "--registry") {
      registry = value;
    } else if (flag == "--replicas") {
      replicas = value;
    } else if (flag == "--hedge-ms") {
      hedge = value;
    } else if (flag == "--calls") {
      calls = std::strtol(value, nullptr, 10);
    } else if (flag == "--warmup") {
      warmup = std::strtol(value, nullptr, 10);
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (argc % 2 != 1) return Usage("every flag needs a value");
  if (path != "plain" && path != "beacon") return Usage("--path must be plain or beacon");
  if (calls < 1 || warmup < 0) return Usage("--calls must be >= 1, --warmup >= 0");

  client::LoadWorkerFactory factory;
  if (path == "plain") {
    auto list = ParseEndpointList("--replicas", replicas);
    if (!list.ok()) return Usage(list.status().message().c_str());
    const std::vector<Endpoint> endpoints = *list;
    factory = [endpoints](int) {
      return bench::PlainPrimeWorker::Create(endpoints, bench::BenchClientOptions(),
                                             bench::SeedFor(1, 0));
    };
  } else {
    auto r = ParseEndpoint("--registry", registry, false, "127.0.0.1");
    if (!r.ok()) return Usage(r.status().message().c_str());
    auto h = client::ParseHedgeMs(hedge);
    if (!h.ok()) return Usage(h.status().message().c_str());
    client::SessionOptions session;
    session.registries = {*r};
    session.balancer = "round-robin";
    session.timeout_ms = bench::BenchClientOptions().call_timeout_ms;
    session.hedge = *h;
    factory = [session](int) {
      return client::SessionLoadWorker::Create(session, client::SessionWorkload{},
                                               bench::SeedFor(1, 0));
    };
  }
  // An idle second thread (see the top): the process is multi-threaded on
  // both paths.
  std::promise<void> done;
  std::thread idle([ended = done.get_future()] { ended.wait(); });
  struct Join {
    std::promise<void>& done;
    std::thread& idle;
    ~Join() {
      done.set_value();
      idle.join();
    }
  } join{done, idle};
  auto worker = factory(0);
  if (!worker.ok()) return Usage(worker.status().ToString().c_str());
  long failed = 0;
  for (long i = 0; i < warmup; ++i) failed += (*worker)->Call().status.ok() ? 0 : 1;
  const double user0 = ThreadCpuMicros(true);
  const double sys0 = ThreadCpuMicros(false);
  const auto wall0 = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) failed += (*worker)->Call().status.ok() ? 0 : 1;
  const double wall =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall0)
          .count() /
      static_cast<double>(calls);
  const double user = (ThreadCpuMicros(true) - user0) / static_cast<double>(calls);
  const double sys = (ThreadCpuMicros(false) - sys0) / static_cast<double>(calls);
  std::printf(
      "%s: %ld calls (+%ld warm-up), %ld failed; %.2f us per call; CPU per call %.2f us "
      "user + %.2f us system = %.2f us\n",
      path.c_str(), calls, warmup, failed, wall, user, sys, user + sys);
  return failed == 0 ? 0 : 1;
}
