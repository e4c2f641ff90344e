// The shared watch reply: header(seqid) + the result encoded once must be,
// byte for byte, what the generated Thrift writer produces for that call,
// and the generated client must read it back with its own seqid.
#include "rpc/watch_reply.h"

#include <gtest/gtest.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <climits>
#include <memory>
#include <string>

#include "Registry.h"
#include "rpc/membership_conversion.h"

namespace beacon::rpc {
namespace {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TMemoryBuffer;

Membership TwoInstances() {
  Membership m;
  m.service_name = "prime";
  m.version = 42;
  m.instances.push_back({"r1", "127.0.0.1", 9101, {{"zone", "a"}}});
  m.instances.push_back({"r2", "::1", 9102, {}});
  return m;
}

// What the generated code writes for a successful reply to watch `seqid`.
std::string GeneratedReply(int32_t seqid, const Membership& m) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  TBinaryProtocol protocol(buffer);
  protocol.writeMessageBegin("watch", apache::thrift::protocol::T_REPLY, seqid);
  idl::Registry_watch_result result;
  result.success = ToIdl(m);
  result.__isset.success = true;
  result.write(&protocol);
  protocol.writeMessageEnd();
  return buffer->getBufferAsString();
}

std::string SharedReply(int32_t seqid, const Membership& m) {
  return std::string(WatchReplyHeader(seqid).bytes()) + *EncodeWatchResult(m);
}

TEST(WatchReply, BytesEqualTheGeneratedWriterForEverySeqid) {
  const Membership m = TwoInstances();
  for (int32_t seqid : {0, 1, 0x12345678, -1, INT_MIN, INT_MAX}) {
    EXPECT_EQ(SharedReply(seqid, m), GeneratedReply(seqid, m)) << "seqid " << seqid;
  }
}

TEST(WatchReply, EmptyMembershipEqualsTheGeneratedWriter) {
  Membership empty;
  empty.service_name = "none";
  EXPECT_EQ(SharedReply(7, empty), GeneratedReply(7, empty));
}

TEST(WatchReply, HeaderHasItsDeclaredSize) {
  EXPECT_EQ(WatchReplyHeader(3).bytes().size(), WatchReplyHeader::kSize);
}

TEST(WatchReply, GeneratedClientReadsTheSeqidAndMembership) {
  const Membership m = TwoInstances();
  std::string bytes = SharedReply(991, m);
  auto buffer = std::make_shared<TMemoryBuffer>(reinterpret_cast<uint8_t*>(bytes.data()),
                                                static_cast<uint32_t>(bytes.size()));
  TBinaryProtocol protocol(buffer);
  std::string name;
  apache::thrift::protocol::TMessageType type;
  int32_t seqid = 0;
  protocol.readMessageBegin(name, type, seqid);
  EXPECT_EQ(name, "watch");
  EXPECT_EQ(type, apache::thrift::protocol::T_REPLY);
  EXPECT_EQ(seqid, 991);
  idl::Membership read;
  idl::Registry_watch_presult result;
  result.success = &read;
  result.read(&protocol);
  protocol.readMessageEnd();
  ASSERT_TRUE(result.__isset.success);
  const Membership back = FromIdl(read);
  EXPECT_EQ(back.version, 42);
  EXPECT_EQ(back.service_name, "prime");
  ASSERT_EQ(back.instances.size(), 2u);
  EXPECT_EQ(back.instances[0], m.instances[0]);
  EXPECT_EQ(back.instances[1], m.instances[1]);
}

}  // namespace
}  // namespace beacon::rpc
