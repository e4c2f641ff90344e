// Fuzzes the registry's whole request path: the input is what a client
// would send on one connection (a sequence of framed binary-protocol
// messages). It goes through the same framed transport and protocol limits
// as rpc::ThriftServer, the generated RegistryProcessor and the real
// RegistryHandler into a real LeaseTable on a fake clock. Like the server, a
// Thrift decoding error ends the "connection"; anything else escaping is a
// crash. A handler that throws anything but the IDL's RegistryError (which
// the generated code would turn into an opaque TApplicationException) aborts,
// and so does a reply the client could not decode.
//
// The first input byte picks the configuration (token or not, clock steps),
// so registrations both succeed and get refused.
#include <spdlog/spdlog.h>
#include <thrift/TApplicationException.h>
#include <thrift/TProcessor.h>
#include <thrift/Thrift.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TVirtualTransport.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>

#include "Registry.h"
#include "core/clock.h"
#include "metrics/registry_metrics.h"
#include "registry/event_log.h"
#include "registry/lease_table.h"
#include "registry_handler.h"
#include "rpc/framed_transport.h"
#include "rpc/thrift_server.h"

namespace {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TMemoryBuffer;

constexpr int kMaxMessageBytes = 1 << 20;  // as rpc::ServerOptions
constexpr int kMaxMessagesPerInput = 64;

// A fake clock for one thread: nothing else could move it while a watch
// waits, so a wait that is not done at once jumps the clock to its deadline.
// Keeps every input deterministic and instant.
class JumpingClock final : public beacon::Clock {
 public:
  int64_t NowMicros() const override { return now_; }
  bool WaitUntil(std::unique_lock<std::mutex>&, std::condition_variable&,
                 int64_t deadline_micros,
                 const std::function<bool()>& done) const override {
    if (done()) return true;
    now_ = std::max(now_, deadline_micros);
    return done();
  }
  void AdvanceMillis(int64_t ms) { now_ += ms * 1000; }

 private:
  mutable int64_t now_ = 1'000'000;
};

// The client's bytes, read like a socket: everything once, then end of
// file. (Thrift's TMemoryBuffer would do, but it memcpy()s to the null
// buffer TFramedTransport passes for an empty frame, which UBSan rightly
// reports and a socket never sees.)
class ClientBytes : public apache::thrift::transport::TVirtualTransport<ClientBytes> {
 public:
  ClientBytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool isOpen() const override { return true; }
  uint32_t read(uint8_t* buf, uint32_t len) {
    const size_t n = std::min<size_t>(len, size_ - pos_);
    if (n > 0) std::memcpy(buf, data_ + pos_, n);
    pos_ += n;
    return static_cast<uint32_t>(n);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Aborts when a handler throws anything the IDL does not declare.
class FailOnHandlerError : public apache::thrift::TProcessorEventHandler {
 public:
  void handlerError(void*, const char* fn_name) override {
    std::fprintf(stderr, "handler for %s threw an undeclared exception\n", fn_name);
    std::abort();
  }
};

// The server's protocol settings (rpc/thrift_server.cc): frames and strings
// and containers bounded by the message size.
std::shared_ptr<TBinaryProtocol> ServerProtocol(
    std::shared_ptr<TFramedTransport> transport) {
  auto protocol = std::make_shared<TBinaryProtocol>(transport);
  protocol->setStringSizeLimit(kMaxMessageBytes);
  protocol->setContainerSizeLimit(kMaxMessageBytes);
  return protocol;
}

// Every reply must be a well-formed message a generated client can read.
void CheckReplies(TMemoryBuffer& written) {
  uint8_t* buf = nullptr;
  uint32_t len = 0;
  written.getBuffer(&buf, &len);
  if (len == 0) return;
  auto copy = std::make_shared<TMemoryBuffer>(buf, len, TMemoryBuffer::COPY);
  auto framed = std::make_shared<TFramedTransport>(
      copy, beacon::rpc::MakeTransportConfig(16 << 20));
  TBinaryProtocol protocol(framed);
  while (framed->peek()) {
    std::string name;
    apache::thrift::protocol::TMessageType type;
    int32_t seqid = 0;
    protocol.readMessageBegin(name, type, seqid);  // throws (= crash) when malformed
    if (type == apache::thrift::protocol::T_EXCEPTION) {
      apache::thrift::TApplicationException e;
      e.read(&protocol);
    } else {
      protocol.skip(apache::thrift::protocol::T_STRUCT);
    }
    protocol.readMessageEnd();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    apache::thrift::GlobalOutput.setOutputFunction([](const char*) {});
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const uint8_t config = data[0];
  ++data;
  --size;

  JumpingClock clock;
  beacon::registry::LeaseTableOptions options;
  options.ttl_ms = 1000;
  options.max_instances_per_service = 4;
  options.max_instances_total = 8;
  options.max_watchers = 2;
  options.max_services = 4;
  options.max_watch_wait_ms = 1;  // a waiting watch ages leases by at most 1 ms
  if (config & 1) options.token = "fuzz-token";
  beacon::registry::LeaseTable table(clock, options, /*initial_version=*/1000);
  // The server's observers too: metrics and the dashboard's change stream.
  beacon::metrics::RegistryMetrics metrics(table, clock);
  beacon::registry::EventLog events(clock, beacon::registry::EventLogOptions{8, 8});
  table.AddObserver(&metrics);
  table.AddObserver(&events);
  auto handler =
      std::make_shared<beacon::registry_svc::RegistryHandler>(table, metrics, "fuzzer:0");
  beacon::idl::RegistryProcessor processor(handler);
  processor.setEventHandler(std::make_shared<FailOnHandlerError>());

  auto input = std::make_shared<ClientBytes>(data, size);
  // The server's own framed transport (per-message budget, empty frames refused).
  auto in_framed = std::make_shared<beacon::rpc::MessageFramedTransport>(
      input, beacon::rpc::MakeTransportConfig(kMaxMessageBytes));
  auto output = std::make_shared<TMemoryBuffer>();
  auto out_framed = std::make_shared<TFramedTransport>(
      output, beacon::rpc::MakeTransportConfig(kMaxMessageBytes));
  auto in_protocol = ServerProtocol(in_framed);
  auto out_protocol = ServerProtocol(out_framed);

  for (int i = 0; i < kMaxMessagesPerInput; ++i) {
    try {
      if (!processor.process(in_protocol, out_protocol, nullptr)) break;
    } catch (const apache::thrift::TException&) {
      break;  // the server would close the connection here
    }
    // Leases age between messages (configurable steps, up to a TTL).
    clock.AdvanceMillis((config >> 1) * 8);
  }
  table.SweepExpired();
  CheckReplies(*output);
  return 0;
}
