// HttpServer on loopback: limits and deadlines hold against hostile clients.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "unit/poll_until.h"

namespace beacon::http {
namespace {

// A blocking loopback TCP connection with a receive deadline.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& s) {
    return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Everything received until the peer closes or timeout_ms passes; *closed
  // says which.
  std::string ReadAll(int timeout_ms, bool* closed) {
    std::string out;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    *closed = false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        *closed = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.request_timeout_ms = 300;
    options_.max_connections = 4;
    auto started = HttpServer::Start(options_, [](const HttpRequest& r) {
      return TextResponse(200, "path=" + r.path);
    });
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
  }
  std::string Get(const std::string& target) {
    Conn c(server_->port());
    EXPECT_TRUE(
        c.Send("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    bool closed = false;
    return c.ReadAll(2000, &closed);
  }

  HttpServerOptions options_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, AnswersAWellFormedRequest) {
  const std::string reply = Get("/hello?x=1");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("path=/hello"), std::string::npos);
}

TEST_F(HttpServerTest, GarbageGets400AndIsClosed) {
  Conn c(server_->port());
  ASSERT_TRUE(c.Send("\x01\x02garbage garbage\r\n\r\n"));
  bool closed = false;
  const std::string reply = c.ReadAll(2000, &closed);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_TRUE(closed);
  EXPECT_NE(Get("/after").find("200"), std::string::npos);
}

TEST_F(HttpServerTest, HugeHeaderGets431AndIsClosed) {
  Conn c(server_->port());
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 200; ++i)
    req += "X-Filler-" + std::to_string(i) + ": " + std::string(100, 'a') + "\r\n";
  c.Send(req);  // the server may close before reading it all
  bool closed = false;
  const std::string reply = c.ReadAll(2000, &closed);
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 100);
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, BodyOverTheLimitGets413) {
  Conn c(server_->port());
  c.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
         std::string(5000, 'b'));
  bool closed = false;
  const std::string reply = c.ReadAll(2000, &closed);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 100);
}

TEST_F(HttpServerTest, SlowClientIsClosedAtTheRequestDeadline) {
  Conn c(server_->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHo"));  // and then nothing
  bool closed = false;
  const auto start = std::chrono::steady_clock::now();
  const std::string reply = c.ReadAll(3000, &closed);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_TRUE(reply.empty());
  EXPECT_LT(took, std::chrono::milliseconds(2000));
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitAreClosedAndOthersStillServed) {
  std::vector<std::unique_ptr<Conn>> held;
  for (size_t i = 0; i < options_.max_connections; ++i) {
    held.push_back(std::make_unique<Conn>(server_->port()));
    ASSERT_TRUE(held.back()->connected());
  }
  ASSERT_TRUE(testing::PollUntil(
      [&] { return server_->open_connections() == options_.max_connections; }));
  Conn extra(server_->port());
  bool closed = false;
  EXPECT_TRUE(extra.ReadAll(2000, &closed).empty());
  EXPECT_TRUE(closed);
  held.clear();  // the held ones time out or close; then requests succeed again
  ASSERT_TRUE(testing::PollUntil([&] { return server_->open_connections() == 0; }));
  EXPECT_NE(Get("/again").find("200"), std::string::npos);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Conn c(server_->port());
  ASSERT_TRUE(
      c.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n"));
  bool closed = false;
  const std::string reply = c.ReadAll(2000, &closed);
  EXPECT_NE(reply.find("path=/a"), std::string::npos);
  EXPECT_NE(reply.find("path=/b"), std::string::npos);
  EXPECT_TRUE(closed);
}

TEST(HttpServer, RefusesBadOptionsAndAnAddressInUse) {
  HttpServerOptions bad;
  bad.max_connections = 0;
  EXPECT_EQ(HttpServer::Start(bad, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  auto first = HttpServer::Start(
      HttpServerOptions{}, [](const HttpRequest&) { return TextResponse(200, ""); });
  ASSERT_TRUE(first.ok());
  HttpServerOptions same;
  same.port = (*first)->port();
  EXPECT_EQ(HttpServer::Start(same, nullptr).status().code(), StatusCode::kUnavailable);
}

TEST(HttpServer, HandlerExceptionBecomes500) {
  auto server = HttpServer::Start(
      HttpServerOptions{},
      [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  ASSERT_TRUE(server.ok());
  Conn c((*server)->port());
  c.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  bool closed = false;
  EXPECT_EQ(c.ReadAll(2000, &closed).rfind("HTTP/1.1 500", 0), 0u);
}

}  // namespace
}  // namespace beacon::http
