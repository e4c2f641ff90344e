#include "rpc/thrift_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <thrift/TConfiguration.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>
#include <thrift/transport/TTransportException.h>

#include <chrono>
#include <cstring>
#include <future>

#include "rpc/framed_transport.h"

namespace beacon::rpc {

using apache::thrift::TConfiguration;
using apache::thrift::transport::TTransport;

namespace {

// TFramedTransportFactory ignores configuration; this one applies ours, with
// the message budget reset per frame (see framed_transport.h).
class BoundedFramedTransportFactory
    : public apache::thrift::transport::TTransportFactory {
 public:
  explicit BoundedFramedTransportFactory(std::shared_ptr<TConfiguration> config)
      : config_(std::move(config)) {}
  std::shared_ptr<TTransport> getTransport(std::shared_ptr<TTransport> trans) override {
    return std::make_shared<MessageFramedTransport>(trans, config_);
  }

 private:
  std::shared_ptr<TConfiguration> config_;
};

}  // namespace

std::shared_ptr<TConfiguration> MakeTransportConfig(int max_message_bytes) {
  return std::make_shared<TConfiguration>(max_message_bytes, max_message_bytes);
}

namespace {

// Signals when serve() has bound and is about to accept (preServe runs right
// after listen()), so Start() can report the real port or the bind error.
class ReadySignal : public apache::thrift::server::TServerEventHandler {
 public:
  void preServe() override { ready_.set_value(); }
  std::future<void> Future() { return ready_.get_future(); }

 private:
  std::promise<void> ready_;
};

}  // namespace

Result<std::unique_ptr<ThriftServer>> ThriftServer::Start(
    const ServerOptions& options,
    std::shared_ptr<apache::thrift::TProcessorFactory> processors) {
  if (options.thread_stack_bytes > 0) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    const int rc = pthread_attr_setstacksize(&attr, options.thread_stack_bytes);
    if (rc != 0 || (pthread_setattr_default_np(&attr)) != 0) {
      pthread_attr_destroy(&attr);
      return InvalidArgument("thread stack size " +
                             std::to_string(options.thread_stack_bytes) +
                             " bytes refused: " + std::strerror(rc));
    }
    pthread_attr_destroy(&attr);
  }
  auto socket = std::make_shared<apache::thrift::transport::TServerSocket>(options.host,
                                                                           options.port);
  socket->setRecvTimeout(options.idle_timeout_ms);
  socket->setSendTimeout(options.send_timeout_ms);
  socket->setKeepAlive(true);
  auto transports = std::make_shared<BoundedFramedTransportFactory>(
      MakeTransportConfig(options.max_message_bytes));
  // No string or container can be larger than the frame that carries it.
  // Without these limits a 30-byte frame claiming a 2 GiB string makes the
  // server allocate and zero 2 GiB, and one claiming 2^31 list elements
  // kills it with bad_alloc (Thrift 0.17's own container check overflows).
  auto protocols = std::make_shared<apache::thrift::protocol::TBinaryProtocolFactory>();
  protocols->setStringSizeLimit(options.max_message_bytes);
  protocols->setContainerSizeLimit(options.max_message_bytes);
  std::unique_ptr<ThriftServer> server(new ThriftServer());
  server->server_ = std::make_shared<apache::thrift::server::TThreadedServer>(
      std::move(processors), socket, transports, protocols);
  server->server_->setConcurrentClientLimit(options.max_connections);
  auto ready = std::make_shared<ReadySignal>();
  server->server_->setServerEventHandler(ready);
  auto ready_future = ready->Future();
  auto bind_error = std::make_shared<std::promise<std::string>>();
  auto bind_error_future = bind_error->get_future();
  auto srv = server->server_;
  auto finished = std::make_shared<std::promise<void>>();
  server->finished_ = finished->get_future().share();
  std::thread serving([srv, bind_error, finished] {
    try {
      srv->serve();
      bind_error->set_value("");
    } catch (const std::exception& e) {
      bind_error->set_value(e.what());
    }
    finished->set_value();
  });
  {
    MutexLock lock(server->mu_);  // not shared yet; the lock is for the analysis
    server->thread_ = std::move(serving);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ready_future.wait_for(std::chrono::milliseconds(5)) !=
         std::future_status::ready) {
    const bool failed = bind_error_future.wait_for(std::chrono::milliseconds(0)) ==
                        std::future_status::ready;
    if (failed || std::chrono::steady_clock::now() > deadline) {
      // serve() may still be on its way to accept(): stop it before joining,
      // or the join waits for a server nobody will ever stop.
      constexpr int kStopWaitMs = 1000;
      if (!server->StopAndJoin(kStopWaitMs)) {
        spdlog::warn("serving thread did not return after a failed start; leaving it");
        MutexLock lock(server->mu_);
        server->thread_.detach();  // it holds its own references (see ~ThriftServer)
      }
      std::string why = "not listening after 10 s";
      if (failed) {
        why = bind_error_future.get();
      }
      return Unavailable("cannot listen on " + options.host + ":" +
                         std::to_string(options.port) + ": " + why);
    }
  }
  server->port_ = socket->getPort();
  return server;
}

bool ThriftServer::StopAndJoin(int wait_ms) {
  {
    MutexLock lock(mu_);
    if (!stop_requested_) {
      stop_requested_ = true;
      server_->stop();  // interrupts accept() and idle connections; does not wait
    }
  }
  // Each caller waits on its own copy of the shared future, outside the lock,
  // so concurrent callers each get their own deadline.
  std::shared_future<void> finished = finished_;
  if (finished.wait_for(std::chrono::milliseconds(wait_ms)) !=
      std::future_status::ready) {
    return false;
  }
  MutexLock lock(mu_);
  // serve() has returned and the thread only has to exit, so this join is short.
  if (thread_.joinable()) thread_.join();
  return true;
}

bool ThriftServer::Stop(int drain_timeout_ms) {
  // serve() returns once every connection has finished its call; wait for it
  // with a deadline so a stuck call cannot hold shutdown forever.
  if (StopAndJoin(drain_timeout_ms)) return true;
  spdlog::warn("{} connection(s) still busy after {} ms of draining",
               server_->getConcurrentClientCount(), drain_timeout_ms);
  return false;
}

ThriftServer::~ThriftServer() {
  {
    // Joined, or detached after a drain that did not finish: nothing to wait for.
    MutexLock lock(mu_);
    if (!thread_.joinable()) return;
  }
  if (Stop(5000)) return;
  // The serving thread holds its own references to the server and the
  // processors, so it may outlive this object; it cannot be joined in time.
  MutexLock lock(mu_);
  if (thread_.joinable()) thread_.detach();
}

}  // namespace beacon::rpc
