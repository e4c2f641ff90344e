#include "held_watches.h"

#include <spdlog/spdlog.h>
#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <optional>

#include "Registry.h"
#include "core/validation.h"
#include "rpc/status_mapping.h"
#include "rpc/watch_reply.h"

namespace beacon::registry_svc {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::T_EXCEPTION;
using apache::thrift::protocol::T_REPLY;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TMemoryBuffer;

namespace {

constexpr const char* kMethod = "watch";
constexpr const char* kService = "Registry";

// What one watch call holds in the metrics from its start to its answer: its
// call in flight (timed) and, under a valid name, its service's watcher.
// Ended once, by whichever path answers the call (only one does).
struct WatchMeasure {
  WatchMeasure(metrics::RegistryMetrics& metrics, const std::string& service)
      : call(std::in_place, metrics.calls(), kService, kMethod) {
    metrics.watches().Increment();
    // Counted per service only under a valid name (names become label values).
    if (ValidateName("service_name", service).ok()) watcher.emplace(metrics, service);
  }
  void End() {
    watcher.reset();
    call.reset();
  }
  std::optional<metrics::CallScope> call;
  std::optional<metrics::RegistryMetrics::WatcherScope> watcher;
};

// The message header of a reply (or exception) to call `seqid`.
std::string Header(int32_t seqid, apache::thrift::protocol::TMessageType type) {
  auto buffer = std::make_shared<TMemoryBuffer>(64);
  TBinaryProtocol protocol(buffer);
  protocol.writeMessageBegin(kMethod, type, seqid);
  return buffer->getBufferAsString();
}

template <class Struct>
std::string Encode(const Struct& s) {
  auto buffer = std::make_shared<TMemoryBuffer>(256);
  TBinaryProtocol protocol(buffer);
  s.write(&protocol);
  protocol.writeMessageEnd();
  return buffer->getBufferAsString();
}

}  // namespace

std::shared_ptr<const std::string> HeldWatches::EncodedResult(
    const registry::MembershipSnapshot& m) {
  MutexLock lock(mu_);
  if (encoded_for_ != m) {
    encoded_ = rpc::EncodeWatchResult(*m);
    encoded_for_ = m;
  }
  return encoded_;
}

void HeldWatches::Reply(rpc::HeldCall& call, int32_t seqid,
                        const registry::MembershipSnapshot& m) {
  const rpc::WatchReplyHeader header(seqid);
  // Cannot fail: the header is 17 bytes and the result never null.
  if (Status s = call.ReplyShared(header.bytes(), EncodedResult(m)); !s.ok()) {
    spdlog::error("watch reply: {}", s.message());
  }
}

void HeldWatches::Handle(const std::string& peer, const std::string& request,
                         std::shared_ptr<rpc::HeldCall> call) {
  int32_t seqid = 0;
  idl::Registry_watch_args args;
  try {
    std::string copy = request;  // TMemoryBuffer observes a mutable buffer
    auto buffer = std::make_shared<TMemoryBuffer>(reinterpret_cast<uint8_t*>(copy.data()),
                                                  static_cast<uint32_t>(copy.size()));
    TBinaryProtocol protocol(buffer, static_cast<int32_t>(copy.size()),
                             static_cast<int32_t>(copy.size()), false, true);
    std::string name;
    apache::thrift::protocol::TMessageType type;
    protocol.readMessageBegin(name, type, seqid);
    args.read(&protocol);
    protocol.readMessageEnd();
  } catch (const apache::thrift::TException& e) {
    spdlog::debug("bad watch request from {}: {}", peer, e.what());
    call->Reply(
        Header(seqid, T_EXCEPTION) +
        Encode(TApplicationException(TApplicationException::PROTOCOL_ERROR, e.what())));
    return;
  }
  auto measure = std::make_shared<WatchMeasure>(metrics_, args.service_name);
  std::weak_ptr<rpc::HeldCall> weak_call = call;
  Result<registry::WatchStart> start =
      table_.StartWatch(args.service_name, args.known_version, args.max_wait_ms,
                        [this, call, seqid, measure](registry::MembershipSnapshot m) {
                          Reply(*call, seqid, m);
                          measure->End();
                        });
  if (!start.ok()) {
    idl::Registry_watch_result result;
    result.err = rpc::ToIdlError<idl::RegistryError>(start.status());
    result.__isset.err = true;
    call->Reply(Header(seqid, T_REPLY) + Encode(result));
    measure->call->Fail(start.status().code());
    measure->End();
    return;
  }
  if (start->now) {
    Reply(*call, seqid, start->now);
    measure->End();
    return;
  }
  call->ExpireAfter(
      args.max_wait_ms, [this, weak_call, seqid, measure, service = args.service_name,
                         ticket = start->ticket] {
        registry::MembershipSnapshot unchanged = table_.CancelWatch(service, ticket);
        if (!unchanged) return;  // the completion answered (or is answering) it
        if (auto held = weak_call.lock()) Reply(*held, seqid, unchanged);
        measure->End();
      });
}

}  // namespace beacon::registry_svc
