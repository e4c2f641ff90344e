#include "http/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>

namespace beacon::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

Status HttpServerOptions::Validate() const {
  if (port < 0 || port > 65535) return InvalidArgument("http port must be 0-65535");
  if (handler_threads < 1) return InvalidArgument("handler_threads must be >= 1");
  if (max_connections < 1) return InvalidArgument("max_connections must be >= 1");
  if (max_header_bytes < 256) return InvalidArgument("max_header_bytes must be >= 256");
  if (request_timeout_ms < 1 || write_timeout_ms < 1) {
    return InvalidArgument("request and write timeouts must be >= 1 ms");
  }
  if (max_requests_per_connection < 1) {
    return InvalidArgument("max_requests_per_connection must be >= 1");
  }
  return Status::Ok();
}

struct HttpServer::Impl {
  Impl(const HttpServerOptions& o, HttpHandler h)
      : options(o), handler(std::move(h)), acceptor(ioc), pool(o.handler_threads) {}

  void Accept();

  const HttpServerOptions options;
  const HttpHandler handler;
  std::atomic<size_t> connections{0};
  int port = 0;
  bool stopped = false;  // Start/Stop thread only
  // Destroyed before `connections` (sessions still queued in it decrement it).
  net::io_context ioc{1};
  tcp::acceptor acceptor;
  std::thread io_thread;
  net::thread_pool pool;
};

namespace {

// One connection: read a request, run the handler on the pool, write the
// response, repeat. Every step carries a deadline (tcp_stream's expiry).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)),
        server_(server),
        buffer_(server.options.max_header_bytes + server.options.max_body_bytes + 1024) {
    ++server_.connections;
  }
  ~Session() { --server_.connections; }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(server_.options.request_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return Close();
    }
    if (ec == bhttp::error::header_limit) {
      return Write(TextResponse(431, "request header too large"), /*close=*/true, 11);
    }
    if (ec == bhttp::error::body_limit) {
      return Write(TextResponse(413, "request body too large"), true, 11);
    }
    if (ec) return Write(TextResponse(400, "bad request: " + ec.message()), true, 11);

    const auto& req = parser_->get();
    const int version = req.version();
    ++served_;
    const bool close =
        !req.keep_alive() || served_ >= server_.options.max_requests_per_connection;
    const bool head = req.method() == bhttp::verb::head;
    auto request =
        ParseTarget(std::string(req.method_string()), std::string(req.target()));
    if (!request.ok()) {
      return Write(TextResponse(400, request.status().message()), true, version);
    }
    net::post(server_.pool, [self = shared_from_this(), request = std::move(*request),
                             close, head, version]() mutable {
      HttpResponse response;
      try {
        response = self->server_.handler(request);
      } catch (const std::exception& e) {
        spdlog::error("http handler for {} failed: {}", request.path, e.what());
        response = TextResponse(500, "internal error");
      }
      if (head) response.body.clear();
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response), close, version]() mutable {
                  self->Write(std::move(response), close, version);
                });
    });
  }

  void Write(HttpResponse response, bool close, int version) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version);
    res->set(bhttp::field::server, "beacon");
    res->set(bhttp::field::content_type, response.content_type);
    res->set(bhttp::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(!close);
    res->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
    bhttp::async_write(
        stream_, *res,
        [self = shared_from_this(), res, close](beast::error_code ec, std::size_t) {
          if (ec || close) return self->Close();
          self->Read();
        });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  int served_ = 0;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(
      net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted) return;  // stopping
        if (!ec) {
          if (connections.load() >= options.max_connections) {
            beast::error_code ignored;
            socket.close(ignored);  // over the limit: refused at once
          } else {
            std::make_shared<Session>(std::move(socket), *this)->Start();
          }
        }
        Accept();
      });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  if (Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  const std::string where = options.host + ":" + std::to_string(options.port);
  beast::error_code ec;
  const auto address = net::ip::make_address(options.host, ec);
  if (ec) return InvalidArgument("http address " + where + ": " + ec.message());
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot serve HTTP on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  Impl* raw = impl.get();
  impl->io_thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port; }

size_t HttpServer::open_connections() const { return impl_->connections.load(); }

void HttpServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->ioc.stop();
  if (impl_->io_thread.joinable()) impl_->io_thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  // Running handlers finish; their replies stay queued on the stopped
  // io_context, whose destruction (with Impl) closes every connection.
  impl_->pool.join();
}

}  // namespace beacon::http
