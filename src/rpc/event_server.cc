#include "rpc/event_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rpc/thrift_server.h"

namespace beacon::rpc {

using apache::thrift::TConfiguration;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TMemoryBuffer;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int kListenBacklog = 4096;
constexpr int kMaxEvents = 256;
constexpr int kHousekeepingMs = 200;           // idle and send-timeout checks
constexpr size_t kHeldInputLimit = 64 * 1024;  // bytes sent ahead of a held call's reply

std::string ErrnoText(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

std::string PeerOf(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

// The 4-byte big-endian frame length of a message of `size` bytes.
std::array<char, 4> FrameLength(size_t size) {
  std::array<char, 4> out;
  const uint32_t n = htonl(static_cast<uint32_t>(size));
  std::memcpy(out.data(), &n, 4);
  return out;
}

// A listening socket on host:port, or the reason it cannot be had. With
// SO_REUSEPORT, so each loop listens on the same port and the kernel spreads
// new connections over them.
Result<int> Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Unavailable("cannot listen on " + host + ":" + service + ": " +
                       gai_strerror(rc));
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          a->ai_protocol);
    if (fd < 0) {
      why = ErrnoText("socket");
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, kListenBacklog) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    why = ErrnoText("bind/listen");
    close(fd);
  }
  freeaddrinfo(found);
  return Unavailable("cannot listen on " + host + ":" + service + ": " + why);
}

int LocalPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
}

}  // namespace

// Everything below runs on the loop thread, except Post/RequestStop (any
// thread) and the counters read through atomics.
class EventServer::Loop : public std::enable_shared_from_this<EventServer::Loop> {
 public:
  // `open_total` counts the connections of every loop of the server, so
  // max_connections holds for the server as a whole.
  Loop(EventServerOptions options, ProcessorForPeer processors, std::string held_method,
       HeldMethod held, std::shared_ptr<std::atomic<int64_t>> open_total)
      : open_total_(std::move(open_total)),
        options_(std::move(options)),
        processors_(std::move(processors)),
        held_method_(std::move(held_method)),
        held_(std::move(held)),
        config_(MakeTransportConfig(options_.max_message_bytes)) {}

  ~Loop() {
    for (auto& [id, c] : conns_) close(c.fd);
    if (listen_fd_ >= 0) close(listen_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  Status Init(int listen_fd) {
    listen_fd_ = listen_fd;
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return Unavailable(ErrnoText("epoll/eventfd"));
    Add(wake_fd_, kWakeId, EPOLLIN);
    Add(listen_fd_, kListenId, EPOLLIN);
    return Status::Ok();
  }

  // A held call's reply waiting for its loop: frame length and the call's
  // own head inline (no allocation per call), the shared tail by reference.
  struct PostedReply {
    uint64_t conn = 0;
    uint32_t head_size = 0;  // frame length + head
    std::array<char, 4 + HeldCall::kMaxSharedHead> head;
    std::shared_ptr<const std::string> tail;
  };

  // A reply for connection `reply.conn`, from any thread.
  void Post(PostedReply reply) {
    bool was_empty;
    {
      MutexLock lock(post_mu_);
      was_empty = posted_.empty();
      posted_.push_back(std::move(reply));
    }
    if (was_empty) Wake();
  }

  void RequestStop(bool force) {
    stop_requested_ = true;
    if (force) force_stop_ = true;
    Wake();
  }

  size_t connection_count() const { return open_connections_.load(); }

  // The loop; returns when stopped and drained (or forced).
  void Run();

 private:
  static constexpr uint64_t kWakeId = 0;
  static constexpr uint64_t kListenId = 1;

  class Held;  // HeldCall for one call on one connection

  struct Connection {
    int fd = -1;
    std::string peer;
    std::shared_ptr<apache::thrift::TProcessor> processor;
    std::string in;
    std::string out;
    size_t out_offset = 0;
    bool held = false;                // a held call awaits its reply
    std::shared_ptr<Held> held_call;  // that call, while held
    bool want_write = false;
    SteadyClock::time_point last_read;
    SteadyClock::time_point last_write_progress;
  };

  // Deadlines of held calls; a call's entry is removed when its reply is
  // delivered, so a busy service's re-armed watches do not pile up here.
  using Timers = std::multimap<SteadyClock::time_point, std::shared_ptr<Held>>;

  void Add(int fd, uint64_t id, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  void Modify(int fd, uint64_t id, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }
  void Wake() {
    const uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof one);
    (void)ignored;
  }

  bool ReserveSlot();
  void Accept();
  void ListenAgainIfRoom();
  void OnReadable(uint64_t id);
  void Flush(uint64_t id);
  // Writes frame+message (`head` then `tail`) after what `c` still has to
  // send: with one sendmsg straight from the (shared) bytes when nothing is
  // queued; what the socket does not take is copied to c.out. False when
  // the connection was closed.
  bool SendReply(uint64_t id, Connection& c, std::string_view head,
                 std::string_view tail);
  void Dispatch(uint64_t id);  // runs complete frames while not held
  void Close(uint64_t id);
  void DeliverPosted();
  void RunDueTimers();
  void Housekeeping();
  void StopListening() {
    if (listening_) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    listening_ = false;
  }
  bool Quiet(const Connection& c) const {
    return !c.held && c.out_offset == c.out.size() && c.in.empty();
  }

  const std::shared_ptr<std::atomic<int64_t>> open_total_;
  const EventServerOptions options_;
  const ProcessorForPeer processors_;
  const std::string held_method_;
  const HeldMethod held_;
  const std::shared_ptr<TConfiguration> config_;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int listen_fd_ = -1;
  bool listening_ = true;
  uint64_t next_id_ = 2;
  std::unordered_map<uint64_t, Connection> conns_;
  Timers timers_;
  std::atomic<size_t> open_connections_{0};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> force_stop_{false};
  bool draining_ = false;

  Mutex post_mu_;
  std::vector<PostedReply> posted_ GUARDED_BY(post_mu_);
  std::vector<PostedReply> delivering_;  // loop thread: posted_ taken over

  friend class Held;
};

class EventServer::Loop::Held final : public HeldCall,
                                      public std::enable_shared_from_this<Held> {
 public:
  Held(std::weak_ptr<Loop> loop, uint64_t conn) : loop_(std::move(loop)), conn_(conn) {}

  void Reply(std::string message) override {
    if (replied_.exchange(true)) return;
    Post({}, std::make_shared<const std::string>(std::move(message)));
  }

  Status ReplyShared(std::string_view head,
                     std::shared_ptr<const std::string> tail) override {
    if (head.size() > kMaxSharedHead) {
      return InvalidArgument("reply head of " + std::to_string(head.size()) +
                             " bytes; at most " + std::to_string(kMaxSharedHead));
    }
    if (!tail) return InvalidArgument("reply tail is null");
    if (replied_.exchange(true)) return Status::Ok();
    Post(head, std::move(tail));
    return Status::Ok();
  }

  // Called on the loop thread only (by the held method or a deadline).
  void ExpireAfter(int ms, std::function<void()> on_deadline) override {
    auto loop = loop_.lock();
    if (!loop) return;
    DropDeadline(*loop);
    on_deadline_ = std::move(on_deadline);
    timer_ = loop->timers_.emplace(SteadyClock::now() + std::chrono::milliseconds(ms),
                                   shared_from_this());
  }

  // Queues head + *tail, framed, on the connection's loop.
  void Post(std::string_view head, std::shared_ptr<const std::string> tail) {
    auto loop = loop_.lock();
    if (!loop) return;
    PostedReply reply;
    reply.conn = conn_;
    const auto length = FrameLength(head.size() + tail->size());
    std::memcpy(reply.head.data(), length.data(), length.size());
    std::memcpy(reply.head.data() + length.size(), head.data(), head.size());
    reply.head_size = static_cast<uint32_t>(length.size() + head.size());
    reply.tail = std::move(tail);
    loop->Post(std::move(reply));
  }

  // Loop thread: forgets the deadline (the reply has been delivered).
  void DropDeadline(Loop& loop) {
    if (timer_) loop.timers_.erase(*timer_);
    timer_.reset();
    on_deadline_ = nullptr;
  }

  // Loop thread: the deadline's entry has been taken out of the timers.
  void FireDeadline() {
    timer_.reset();
    if (replied_.load() || !on_deadline_) return;
    auto fn = std::move(on_deadline_);
    on_deadline_ = nullptr;
    fn();
  }

 private:
  std::weak_ptr<Loop> loop_;
  const uint64_t conn_;
  std::atomic<bool> replied_{false};
  std::function<void()> on_deadline_;      // loop thread only
  std::optional<Timers::iterator> timer_;  // loop thread only
};

void EventServer::Loop::Run() {
  std::vector<epoll_event> events(kMaxEvents);
  auto next_housekeeping = SteadyClock::now();
  while (true) {
    if (force_stop_) break;
    if (stop_requested_ && !draining_) {
      draining_ = true;
      StopListening();
      std::vector<uint64_t> quiet;
      for (auto& [id, c] : conns_) {
        if (Quiet(c)) quiet.push_back(id);
      }
      for (uint64_t id : quiet) Close(id);
    }
    if (draining_ && conns_.empty()) break;

    int timeout_ms = kHousekeepingMs;
    if (!timers_.empty()) {
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
                             timers_.begin()->first - SteadyClock::now())
                             .count() +
                         1;
      timeout_ms = static_cast<int>(std::clamp<int64_t>(until, 0, kHousekeepingMs));
    }
    const int n = epoll_wait(epoll_fd_, events.data(), kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("event server: {}", ErrnoText("epoll_wait"));
      break;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[static_cast<size_t>(i)].data.u64;
      const uint32_t ev = events[static_cast<size_t>(i)].events;
      if (id == kWakeId) {
        uint64_t count;
        ssize_t ignored = read(wake_fd_, &count, sizeof count);
        (void)ignored;
        DeliverPosted();
      } else if (id == kListenId) {
        Accept();
      } else {
        if (ev & (EPOLLERR | EPOLLHUP)) {
          // Read what is left (a last request and its FIN) before closing.
          OnReadable(id);
          if (conns_.count(id)) Close(id);
          continue;
        }
        if (ev & EPOLLOUT) Flush(id);
        if ((ev & EPOLLIN) && conns_.count(id)) OnReadable(id);
      }
    }
    RunDueTimers();
    if (SteadyClock::now() >= next_housekeeping) {
      Housekeeping();
      next_housekeeping = SteadyClock::now() + std::chrono::milliseconds(kHousekeepingMs);
    }
  }
}

// Takes one slot of the server-wide connection limit; false when full.
bool EventServer::Loop::ReserveSlot() {
  int64_t open = open_total_->load();
  while (open < options_.max_connections) {
    if (open_total_->compare_exchange_weak(open, open + 1)) return true;
  }
  return false;
}

void EventServer::Loop::Accept() {
  while (listening_) {
    if (!ReserveSlot()) {
      StopListening();  // the rest wait in the backlog until a slot frees
      return;
    }
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      --*open_total_;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        spdlog::warn("event server: {}", ErrnoText("accept"));
      }
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    const uint64_t id = next_id_++;
    Connection& c = conns_[id];
    c.fd = fd;
    c.peer = PeerOf(fd);
    c.processor = processors_(c.peer);
    c.last_read = c.last_write_progress = SteadyClock::now();
    Add(fd, id, EPOLLIN);
    ++open_connections_;
  }
}

void EventServer::Loop::ListenAgainIfRoom() {
  if (!listening_ && !draining_ && open_total_->load() < options_.max_connections) {
    Add(listen_fd_, kListenId, EPOLLIN);
    listening_ = true;
  }
}

void EventServer::Loop::OnReadable(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  char buf[16384];
  bool closed = false;
  while (true) {
    const ssize_t got = read(c.fd, buf, sizeof buf);
    if (got > 0) {
      c.in.append(buf, static_cast<size_t>(got));
      c.last_read = SteadyClock::now();
      // At most one frame is buffered (plus one read); a Thrift client
      // sends nothing while its call is held, so little is allowed then.
      const size_t limit =
          c.held ? kHeldInputLimit
                 : static_cast<size_t>(options_.max_message_bytes) + 4 + sizeof buf;
      if (c.in.size() > limit) {
        closed = true;
        break;
      }
      continue;
    }
    if (got == 0) closed = true;
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) closed = true;
    break;
  }
  Dispatch(id);
  if (closed && conns_.count(id)) {
    // The peer has finished sending; an answer in flight is still written
    // only if it is ready now (a half-closed Thrift client reads no more).
    Close(id);
  }
}

void EventServer::Loop::Dispatch(uint64_t id) {
  while (true) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Connection& c = it->second;
    if (c.held || c.in.size() < 4) return;
    uint32_t be_len;
    std::memcpy(&be_len, c.in.data(), 4);
    const int64_t len = static_cast<int32_t>(ntohl(be_len));
    if (len <= 0 || len > options_.max_message_bytes) {
      spdlog::debug("event server: frame of {} bytes from {}: closing", len, c.peer);
      Close(id);
      return;
    }
    if (c.in.size() < static_cast<size_t>(len) + 4) return;
    std::string message = c.in.substr(4, static_cast<size_t>(len));
    c.in.erase(0, static_cast<size_t>(len) + 4);

    std::string reply;
    try {
      auto in = std::make_shared<TMemoryBuffer>(
          reinterpret_cast<uint8_t*>(message.data()),
          static_cast<uint32_t>(message.size()), TMemoryBuffer::OBSERVE, config_);
      TBinaryProtocol in_protocol(in, options_.max_message_bytes,
                                  options_.max_message_bytes, false, true);
      std::string name;
      apache::thrift::protocol::TMessageType type;
      int32_t seqid;
      in_protocol.readMessageBegin(name, type, seqid);
      if (name == held_method_) {
        c.held = true;
        c.held_call = std::make_shared<Held>(weak_from_this(), id);
        held_(c.peer, message, c.held_call);
        continue;  // the reply arrives through Post (perhaps already posted)
      }
      in->resetBuffer(reinterpret_cast<uint8_t*>(message.data()),
                      static_cast<uint32_t>(message.size()));
      auto in_protocol_ptr = std::make_shared<TBinaryProtocol>(
          in, options_.max_message_bytes, options_.max_message_bytes, false, true);
      auto out = std::make_shared<TMemoryBuffer>(config_);
      auto out_protocol = std::make_shared<TBinaryProtocol>(out);
      c.processor->process(in_protocol_ptr, out_protocol, nullptr);
      reply = out->getBufferAsString();
    } catch (const std::exception& e) {
      spdlog::debug("event server: bad request from {}: {}", c.peer, e.what());
      Close(id);
      return;
    }
    if (reply.empty()) continue;  // oneway
    const auto length = FrameLength(reply.size());
    if (!SendReply(id, c, std::string_view(length.data(), length.size()), reply)) return;
  }
}

void EventServer::Loop::Flush(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  while (c.out_offset < c.out.size()) {
    const ssize_t sent = send(c.fd, c.out.data() + c.out_offset,
                              c.out.size() - c.out_offset, MSG_NOSIGNAL);
    if (sent > 0) {
      c.out_offset += static_cast<size_t>(sent);
      c.last_write_progress = SteadyClock::now();
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Close(id);
    return;
  }
  const bool pending = c.out_offset < c.out.size();
  if (!pending) {
    c.out.clear();
    c.out_offset = 0;
  }
  if (pending != c.want_write) {
    c.want_write = pending;
    Modify(c.fd, id, pending ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
  }
  if (draining_ && Quiet(c)) Close(id);
}

bool EventServer::Loop::SendReply(uint64_t id, Connection& c, std::string_view head,
                                  std::string_view tail) {
  if (c.out_offset == c.out.size()) {
    iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(tail.data()), tail.size()}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t sent;
    do {
      sent = sendmsg(c.fd, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      Close(id);
      return false;
    }
    const size_t done = sent > 0 ? static_cast<size_t>(sent) : 0;
    if (done == head.size() + tail.size()) {
      c.last_write_progress = SteadyClock::now();
      if (draining_ && Quiet(c)) {
        Close(id);
        return false;
      }
      return true;
    }
    // The socket is full: keep the rest, and Flush waits for room.
    c.out.clear();
    c.out_offset = 0;
    if (done < head.size()) {
      c.out.append(head.substr(done));
      c.out.append(tail);
    } else {
      c.out.append(tail.substr(done - head.size()));
    }
    if (done > 0) c.last_write_progress = SteadyClock::now();
  } else {
    c.out.append(head);
    c.out.append(tail);
  }
  Flush(id);
  return conns_.count(id) > 0;
}

void EventServer::Loop::DeliverPosted() {
  {
    MutexLock lock(post_mu_);
    delivering_.swap(posted_);
  }
  for (PostedReply& reply : delivering_) {
    const uint64_t id = reply.conn;
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;  // closed meanwhile
    Connection& c = it->second;
    c.held = false;
    if (c.held_call) c.held_call->DropDeadline(*this);
    c.held_call = nullptr;
    // A reply is progress even when the socket takes none of it yet.
    c.last_write_progress = SteadyClock::now();
    if (!SendReply(id, c, std::string_view(reply.head.data(), reply.head_size),
                   *reply.tail)) {
      continue;
    }
    if (c.in.size() >= 4) Dispatch(id);  // a request sent ahead while held
  }
  delivering_.clear();  // keeps its capacity for the next fan-out
}

void EventServer::Loop::RunDueTimers() {
  const auto now = SteadyClock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    std::shared_ptr<Held> call = timers_.begin()->second;
    timers_.erase(timers_.begin());
    call->FireDeadline();
  }
}

void EventServer::Loop::Housekeeping() {
  const auto now = SteadyClock::now();
  const auto idle = std::chrono::milliseconds(options_.idle_timeout_ms);
  const auto send_limit = std::chrono::milliseconds(options_.send_timeout_ms);
  ListenAgainIfRoom();  // a slot freed by another loop
  std::vector<uint64_t> expired;
  for (auto& [id, c] : conns_) {
    const bool writing = c.out_offset < c.out.size();
    if (writing && now - c.last_write_progress > send_limit) {
      expired.push_back(id);
    } else if (!writing && !c.held && now - c.last_read > idle) {
      expired.push_back(id);
    }
  }
  for (uint64_t id : expired) Close(id);
}

void EventServer::Loop::Close(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  close(it->second.fd);  // also removes it from the epoll set
  conns_.erase(it);
  --open_connections_;
  --*open_total_;
  ListenAgainIfRoom();  // the other loops do at their next housekeeping
}

Result<std::unique_ptr<EventServer>> EventServer::Start(const EventServerOptions& options,
                                                        ProcessorForPeer processors,
                                                        std::string held_method,
                                                        HeldMethod held) {
  if (options.loop_threads < 1 || options.loop_threads > 64) {
    return InvalidArgument("loop_threads must be 1..64, got " +
                           std::to_string(options.loop_threads));
  }
  std::unique_ptr<EventServer> server(new EventServer());
  auto open_total = std::make_shared<std::atomic<int64_t>>(0);
  for (int i = 0; i < options.loop_threads; ++i) {
    // The first loop picks the port (perhaps 0: any), the others join it.
    Result<int> fd = Listen(options.host, i == 0 ? options.port : server->port_);
    if (!fd.ok()) return fd.status();  // loops started so far stop with `server`
    if (i == 0) server->port_ = LocalPort(*fd);
    auto loop =
        std::make_shared<Loop>(options, processors, held_method, held, open_total);
    if (Status s = loop->Init(*fd); !s.ok()) return s;
    MutexLock lock(server->mu_);
    server->loops_.push_back(loop);
    server->threads_.emplace_back([loop] { loop->Run(); });
  }
  return server;
}

size_t EventServer::CountConnections() const {
  size_t n = 0;
  for (const auto& loop : loops_) n += loop->connection_count();
  return n;
}

bool EventServer::Stop(int drain_timeout_ms) {
  MutexLock lock(mu_);
  if (threads_.empty()) return true;
  for (auto& loop : loops_) loop->RequestStop(/*force=*/false);
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(drain_timeout_ms);
  bool drained = true;
  while (CountConnections() > 0) {
    if (SteadyClock::now() >= deadline) {
      spdlog::warn("{} connection(s) still busy after {} ms of draining",
                   CountConnections(), drain_timeout_ms);
      drained = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Everything has finished (or the drain gave up): end the loops, also one
  // that accepted a connection after the count was read.
  for (auto& loop : loops_) loop->RequestStop(/*force=*/true);
  for (auto& t : threads_) t.join();
  threads_.clear();
  return drained;
}

size_t EventServer::connection_count() const { return CountConnections(); }

EventServer::~EventServer() { Stop(5000); }

}  // namespace beacon::rpc
