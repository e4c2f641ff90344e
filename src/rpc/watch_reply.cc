#include "rpc/watch_reply.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <cstring>

#include "Registry.h"
#include "rpc/membership_conversion.h"

namespace beacon::rpc {

namespace {

void PutBigEndian32(uint32_t v, char* out) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}

}  // namespace

WatchReplyHeader::WatchReplyHeader(int32_t seqid) {
  // TBinaryProtocol::writeMessageBegin, strict: VERSION_1 | type, then the
  // name as a length-prefixed string, then the seqid.
  const uint32_t version_and_type =
      static_cast<uint32_t>(apache::thrift::protocol::TBinaryProtocol::VERSION_1 |
                            apache::thrift::protocol::T_REPLY);
  PutBigEndian32(version_and_type, bytes_.data());
  PutBigEndian32(5, bytes_.data() + 4);
  std::memcpy(bytes_.data() + 8, "watch", 5);
  PutBigEndian32(static_cast<uint32_t>(seqid), bytes_.data() + 13);
}

std::shared_ptr<const std::string> EncodeWatchResult(const Membership& membership) {
  idl::Registry_watch_result result;
  result.success = ToIdl(membership);
  result.__isset.success = true;
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>(256);
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  result.write(&protocol);
  protocol.writeMessageEnd();
  return std::make_shared<const std::string>(buffer->getBufferAsString());
}

std::string FramedWatchCall(const std::string& service, int64_t known_version,
                            int32_t max_wait_ms, int32_t seqid) {
  using apache::thrift::protocol::TBinaryProtocol;
  using apache::thrift::transport::TMemoryBuffer;
  auto buffer = std::make_shared<TMemoryBuffer>(256);
  TBinaryProtocol protocol(buffer);
  protocol.writeMessageBegin("watch", apache::thrift::protocol::T_CALL, seqid);
  idl::Registry_watch_pargs args;
  args.service_name = &service;
  args.known_version = &known_version;
  args.max_wait_ms = &max_wait_ms;
  args.write(&protocol);
  protocol.writeMessageEnd();
  const std::string message = buffer->getBufferAsString();
  std::string framed(4, '\0');
  PutBigEndian32(static_cast<uint32_t>(message.size()), framed.data());
  return framed + message;
}

}  // namespace beacon::rpc
