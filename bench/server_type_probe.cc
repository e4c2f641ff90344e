// server_type_probe: the measurement behind registry_svc's and replica_svc's
// choice of Thrift server. The same Prime handler is served by
// TThreadedServer (what Beacon uses) and by TNonblockingServer with a
// 2-thread worker pool, on loopback, and C client threads (each with one
// persistent framed connection) call isPrime for a fixed time. Client and
// server share the machine, as they do in Beacon's demos. Every run is
// bounded in time; both servers are stopped before exit.
//
//   server_type_probe [--seconds S] [--clients 1,4,16,64]
// Prints one Markdown table row per (server, clients).
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TNonblockingServerSocket.h>
#include <thrift/transport/TServerSocket.h>
#include <thrift/transport/TSocket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "Prime.h"
#include "primes/miller_rabin.h"
#include "stats/latency_histogram.h"

namespace {

using namespace apache::thrift;
using Clock = std::chrono::steady_clock;

class PrimeHandler : public beacon::idl::PrimeIf {
 public:
  void isPrime(beacon::idl::PrimeReply& out, int64_t n) override {
    out.n = n;
    out.is_prime = beacon::primes::IsPrime(static_cast<uint64_t>(n));
    out.served_by = "probe";
  }
  void countPrimes(beacon::idl::CountReply&, int64_t, int64_t) override {}
  void ping(std::string& out) override { out = "probe"; }
};

struct Outcome {
  double calls_per_s = 0;
  int64_t p50 = 0, p99 = 0;
  int64_t errors = 0;
};

Outcome Drive(int port, int clients, double seconds) {
  std::atomic<int64_t> calls{0}, errors{0};
  std::vector<beacon::stats::LatencyHistogram> hist(clients);
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      try {
        auto socket = std::make_shared<transport::TSocket>("127.0.0.1", port);
        socket->setRecvTimeout(5000);
        auto trans = std::make_shared<transport::TFramedTransport>(socket);
        beacon::idl::PrimeClient client(
            std::make_shared<protocol::TBinaryProtocol>(trans));
        trans->open();
        int64_t n = 1000003 + c;
        while (Clock::now() < end) {
          const auto t0 = Clock::now();
          beacon::idl::PrimeReply r;
          client.isPrime(r, n += 2);
          hist[c].Record(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0)
                  .count());
          calls.fetch_add(1, std::memory_order_relaxed);
        }
      } catch (const std::exception&) {
        errors.fetch_add(1);
      }
    });
  }
  const auto start = Clock::now();
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  beacon::stats::LatencyHistogram all;
  for (auto& h : hist) all.Merge(h);
  return Outcome{calls.load() / elapsed, all.Percentile(0.5), all.Percentile(0.99),
                 errors.load()};
}

// Waits until something accepts on port (bounded).
bool WaitForPort(int port) {
  for (int i = 0; i < 500; ++i) {
    try {
      transport::TSocket s("127.0.0.1", port);
      s.open();
      s.close();
      return true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return false;
}

int FreePortFrom(const std::shared_ptr<transport::TServerSocket>& s) {
  return s->getPort();
}

}  // namespace

int main(int argc, char** argv) {
  GlobalOutput.setOutputFunction([](const char*) {});
  double seconds = 3;
  std::vector<int> client_counts = {1, 4, 16, 64};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) {
      seconds = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--clients") == 0) {
      client_counts.clear();
      for (char* tok = std::strtok(argv[i + 1], ","); tok;
           tok = std::strtok(nullptr, ",")) {
        client_counts.push_back(std::atoi(tok));
      }
    }
  }
  if (!(seconds > 0 && seconds <= 60) || client_counts.empty()) {
    std::fprintf(stderr,
                 "usage: server_type_probe [--seconds 0<S<=60] [--clients 1,4,...]\n");
    return 2;
  }
  auto handler = std::make_shared<PrimeHandler>();
  auto processor = std::make_shared<beacon::idl::PrimeProcessor>(handler);
  auto protocols = std::make_shared<protocol::TBinaryProtocolFactory>();

  // TThreadedServer, framed, as in rpc/thrift_server.cc.
  auto threaded_socket = std::make_shared<transport::TServerSocket>("127.0.0.1", 0);
  server::TThreadedServer threaded(processor, threaded_socket,
                                   std::make_shared<transport::TFramedTransportFactory>(),
                                   protocols);
  std::thread threaded_thread([&] { threaded.serve(); });

  // TNonblockingServer with a 2-thread worker pool (one per core).
  auto nb_socket = std::make_shared<transport::TNonblockingServerSocket>("127.0.0.1", 0);
  auto workers = concurrency::ThreadManager::newSimpleThreadManager(2);
  workers->threadFactory(std::make_shared<concurrency::ThreadFactory>());
  workers->start();
  server::TNonblockingServer nonblocking(processor, protocols, nb_socket, workers);
  std::thread nb_thread([&] { nonblocking.serve(); });

  int threaded_port = 0;
  for (int i = 0; i < 500 && (threaded_port = FreePortFrom(threaded_socket)) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int nb_port = 0;
  for (int i = 0; i < 500 && (nb_port = nb_socket->getListenPort()) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int rc = 0;
  if (threaded_port == 0 || nb_port == 0 || !WaitForPort(threaded_port) ||
      !WaitForPort(nb_port)) {
    std::fprintf(stderr, "servers did not come up\n");
    rc = 1;
  } else {
    std::printf(
        "| clients | TThreadedServer calls/s | p50 us | p99 us | TNonblockingServer (2 "
        "workers) calls/s | p50 us | p99 us | ratio threaded/nonblocking |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    bool threaded_first = true;
    for (int c : client_counts) {
      if (c < 1 || c > 256) continue;
      // Alternate which goes first so neither always gets the cooler machine.
      Outcome t, n;
      if (threaded_first) {
        t = Drive(threaded_port, c, seconds);
        n = Drive(nb_port, c, seconds);
      } else {
        n = Drive(nb_port, c, seconds);
        t = Drive(threaded_port, c, seconds);
      }
      threaded_first = !threaded_first;
      std::printf("| %d | %.0f | %lld | %lld | %.0f | %lld | %lld | %.2f |\n", c,
                  t.calls_per_s, static_cast<long long>(t.p50),
                  static_cast<long long>(t.p99), n.calls_per_s,
                  static_cast<long long>(n.p50), static_cast<long long>(n.p99),
                  n.calls_per_s > 0 ? t.calls_per_s / n.calls_per_s : 0.0);
      if (t.errors || n.errors) {
        std::printf("(errors: threaded %lld, nonblocking %lld)\n",
                    static_cast<long long>(t.errors), static_cast<long long>(n.errors));
        rc = 1;
      }
    }
  }
  threaded.stop();
  nonblocking.stop();
  threaded_thread.join();
  nb_thread.join();
  workers->stop();
  return rc;
}
