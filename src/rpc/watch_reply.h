// The reply to Registry.watch in two parts, so that one membership change
// can answer thousands of waiting watches with the same bytes: the message
// header, which differs from call to call only in its seqid and is written
// here without Thrift's buffers, and the result (the membership), encoded
// once per membership version and shared by every call it answers. Header
// bytes followed by result bytes are exactly what the generated Thrift code
// writes for a successful watch reply (binary protocol, strict). The call it
// answers can be written here too (FramedWatchCall).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/membership.h"

namespace beacon::rpc {

// The message header of the reply to watch call `seqid`. A value; copying
// it allocates nothing.
class WatchReplyHeader {
 public:
  // version|T_REPLY, the name's length, "watch", seqid.
  static constexpr size_t kSize = 4 + 4 + 5 + 4;

  explicit WatchReplyHeader(int32_t seqid);
  std::string_view bytes() const { return {bytes_.data(), bytes_.size()}; }

 private:
  std::array<char, kSize> bytes_;
};

// The encoded Registry_watch_result whose `success` is `membership` (what
// follows the header in the message). Never null. Thread-safe (pure).
std::shared_ptr<const std::string> EncodeWatchResult(const Membership& membership);

// The framed call watch(service, known_version, max_wait_ms) with `seqid`:
// the bytes a client sends (4-byte frame length, then the message), for the
// benchmark's watch fleet and tests that speak the wire directly. Thread-safe
// (pure).
std::string FramedWatchCall(const std::string& service, int64_t known_version,
                            int32_t max_wait_ms, int32_t seqid);

}  // namespace beacon::rpc
