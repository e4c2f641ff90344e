// loopback_floor: the least any registry that keeps one TCP connection per
// watcher must spend to notify N watchers on this machine, with no registry
// in the way. N loopback connections (TCP_NODELAY on the sending side, as the
// registry's event server sets it); a receiver thread parked in epoll_wait
// on the N other ends, as the bench's watch fleet is; one thread writes one
// `--bytes` message to each connection with one send() each (the receiver
// is a child process, as the fleet is a process apart from the registry). Measured per
// round: the sending thread's CPU (getrusage RUSAGE_THREAD: user and system)
// per write, and the time from the first write to the receiver's last read.
// Whatever the sender's system time per write is, a server doing the same
// (one write per watcher) cannot go below it.
//
// Usage: loopback_floor [--connections 1000,10000] [--rounds 3] [--bytes 104]
//                       [--rep 1] [--raw FILE]
// Prints one line per connection count to stderr; with --raw appends one
// bench record (scenario "registry", metrics w<N>.floor_*) that bench/run's
// report shows beside the registry's own CPU per notified watcher.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t Micros(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "loopback_floor: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

struct ThreadCpu {
  int64_t user_us = 0;
  int64_t sys_us = 0;
};

ThreadCpu ThreadCpuNow() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return {u.ru_utime.tv_sec * 1'000'000 + u.ru_utime.tv_usec,
          u.ru_stime.tv_sec * 1'000'000 + u.ru_stime.tv_usec};
}

// The receiving side, in a child process of its own (as the watch fleet is
// a process apart from the registry; it also halves the descriptors each
// process needs): connects `n` sockets to `port`, then for each of `rounds`
// rounds waits in epoll_wait until every socket has had its `bytes`, and
// reports {last read, own CPU} through `report_fd`.
[[noreturn]] void Receive(int port, int n, int rounds, size_t bytes, int report_fd) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0) Die("socket (raise the open-file limit?)");
    if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("connect");
    // Read until EAGAIN, like a client's event loop.
    if (fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK) != 0) Die("fcntl");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(i);
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c, &ev) != 0) Die("epoll_ctl");
    fds.push_back(c);
  }
  std::vector<size_t> got(static_cast<size_t>(n), 0);
  std::vector<epoll_event> events(1024);
  std::vector<char> buf(bytes * 4 + 64);
  for (int r = 0; r < rounds; ++r) {
    const ThreadCpu before = ThreadCpuNow();
    int done = 0;
    int64_t last_read_at = 0;
    while (done < n) {
      const int k =
          epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 60000);
      if (k <= 0) Die("receiver: no data within 60 s");
      for (int e = 0; e < k; ++e) {
        const size_t i = events[static_cast<size_t>(e)].data.u64;
        while (true) {
          const ssize_t got_now = read(fds[i], buf.data(), buf.size());
          if (got_now <= 0) break;
          got[i] += static_cast<size_t>(got_now);
        }
        if (got[i] >= bytes) {  // this round's one message is in
          got[i] -= bytes;
          ++done;
          last_read_at = Micros(Clock::now());
        }
      }
    }
    const ThreadCpu after = ThreadCpuNow();
    const int64_t report[2] = {
        last_read_at, (after.user_us - before.user_us) + (after.sys_us - before.sys_us)};
    if (write(report_fd, report, sizeof report) != sizeof report) Die("report");
  }
  std::_Exit(0);
}

struct Round {
  double user_per_write_us = 0;
  double sys_per_write_us = 0;
  double recv_cpu_per_read_us = 0;
  int64_t send_span_us = 0;  // first write → last write returned
  int64_t last_read_us = 0;  // first write → receiver's last read
};

// One round: one write to each of `senders`, the receiver's report read
// from `report_fd`.
Round RunRound(const std::vector<int>& senders, int report_fd, size_t bytes) {
  // Let the receiver park in epoll_wait, as a waiting watcher's client is.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const size_t n = senders.size();
  const std::string message(bytes, 'm');
  const ThreadCpu before = ThreadCpuNow();
  const int64_t start = Micros(Clock::now());
  for (int fd : senders) {
    if (send(fd, message.data(), message.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(message.size())) {
      Die("send");
    }
  }
  const int64_t sent = Micros(Clock::now());
  const ThreadCpu after = ThreadCpuNow();
  int64_t report[2];
  if (read(report_fd, report, sizeof report) != sizeof report) Die("receiver report");

  Round r;
  r.user_per_write_us = static_cast<double>(after.user_us - before.user_us) / n;
  r.sys_per_write_us = static_cast<double>(after.sys_us - before.sys_us) / n;
  r.recv_cpu_per_read_us = static_cast<double>(report[1]) / n;
  r.send_span_us = sent - start;
  r.last_read_us = report[0] - start;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts{1000, 10000};
  int rounds = 3, rep = 1;
  size_t bytes = 104;
  std::string raw;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::printf(
          "loopback_floor [--connections 1000,10000] [--rounds 3] [--bytes 104] "
          "[--rep 1] [--raw FILE]\n");
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "loopback_floor: %s needs a value\n", flag.c_str());
      return 2;
    }
    const std::string value = argv[++i];
    try {
      if (flag == "--connections") {
        counts.clear();
        std::stringstream ss(value);
        std::string item;
        while (std::getline(ss, item, ',')) counts.push_back(std::stoi(item));
      } else if (flag == "--rounds") {
        rounds = std::stoi(value);
      } else if (flag == "--bytes") {
        bytes = static_cast<size_t>(std::stoul(value));
      } else if (flag == "--rep") {
        rep = std::stoi(value);
      } else if (flag == "--raw") {
        raw = value;
      } else {
        std::fprintf(stderr, "loopback_floor: unknown flag %s\n", flag.c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "loopback_floor: %s: not a number: %s\n", flag.c_str(),
                   value.c_str());
      return 2;
    }
  }
  for (int n : counts) {
    if (n < 1 || n > 100000) {
      std::fprintf(stderr, "loopback_floor: --connections must be 1..100000 each\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 100 || bytes < 1 || bytes > 65536) {
    std::fprintf(stderr, "loopback_floor: --rounds 1..100, --bytes 1..65536\n");
    return 2;
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }

  nlohmann::json metrics = nlohmann::json::object();
  for (int n : counts) {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 ||
        bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 4096) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      Die("bind/listen");
    }
    int report[2];
    if (pipe(report) != 0) Die("pipe");
    const pid_t child = fork();
    if (child < 0) Die("fork");
    if (child == 0) {
      close(listener);
      close(report[0]);
      Receive(ntohs(addr.sin_port), n, rounds, bytes, report[1]);
    }
    close(report[1]);
    std::vector<int> senders;
    const int one = 1;
    for (int i = 0; i < n; ++i) {
      const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) Die("accept");
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      senders.push_back(fd);
    }
    close(listener);
    Round sum;
    int64_t worst_last_read = 0;
    for (int r = 0; r < rounds; ++r) {
      const Round one_round = RunRound(senders, report[0], bytes);
      sum.user_per_write_us += one_round.user_per_write_us / rounds;
      sum.sys_per_write_us += one_round.sys_per_write_us / rounds;
      sum.recv_cpu_per_read_us += one_round.recv_cpu_per_read_us / rounds;
      sum.send_span_us += one_round.send_span_us / rounds;
      sum.last_read_us += one_round.last_read_us / rounds;
      worst_last_read = std::max(worst_last_read, one_round.last_read_us);
    }
    int status = 0;
    waitpid(child, &status, 0);
    close(report[0]);
    for (int fd : senders) close(fd);

    const std::string w = "w" + std::to_string(n) + ".";
    metrics[w + "floor_user_per_write_us"] = sum.user_per_write_us;
    metrics[w + "floor_sys_per_write_us"] = sum.sys_per_write_us;
    metrics[w + "floor_cpu_per_write_us"] = sum.user_per_write_us + sum.sys_per_write_us;
    metrics[w + "floor_recv_cpu_per_read_us"] = sum.recv_cpu_per_read_us;
    metrics[w + "floor_send_span_us"] = sum.send_span_us;
    metrics[w + "floor_last_read_us"] = sum.last_read_us;
    std::fprintf(stderr,
                 "  loopback floor rep %d: %d connections x %d rounds, %zu-byte writes: "
                 "sender %.1f us/write (user %.1f, sys %.1f); receiver %.1f us/read; "
                 "writes took %.1f ms, last read %.1f ms after the first write (worst "
                 "%.1f)\n",
                 rep, n, rounds, bytes, sum.user_per_write_us + sum.sys_per_write_us,
                 sum.user_per_write_us, sum.sys_per_write_us, sum.recv_cpu_per_read_us,
                 sum.send_span_us / 1e3, sum.last_read_us / 1e3, worst_last_read / 1e3);
  }
  if (!raw.empty()) {
    nlohmann::json record{{"scenario", "registry"},
                          {"rep", rep},
                          {"metrics", metrics},
                          {"detail", nlohmann::json::object()}};
    std::ofstream out(raw, std::ios::app);
    out << record.dump() << "\n";
    if (!out) {
      std::fprintf(stderr, "loopback_floor: cannot append to %s\n", raw.c_str());
      return 1;
    }
  }
  return 0;
}
