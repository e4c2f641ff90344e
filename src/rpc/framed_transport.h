// MessageFramedTransport: Thrift's framed transport with the message-size
// budget counted per message, as TConfiguration intends.
//
// Thrift 0.17 counts the bytes a protocol reads (strings, containers) against
// max_message_size but never resets that count between messages on one
// connection, so a long-lived connection dies after max_message_size bytes in
// total (with our 1 MiB limit: ~40k registry lookups, ~80k isPrime calls).
// Resetting the budget at every frame keeps the limit per message: a single
// hostile frame is still refused before allocation (frame size check) and a
// single message still cannot claim more than the limit. Empty frames are
// refused as corrupt.
#pragma once

#include <thrift/TConfiguration.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

#include <memory>

namespace beacon::rpc {

// Not thread-safe, like every Thrift transport.
class MessageFramedTransport final : public apache::thrift::transport::TFramedTransport {
 public:
  MessageFramedTransport(std::shared_ptr<apache::thrift::transport::TTransport> transport,
                         std::shared_ptr<apache::thrift::TConfiguration> config)
      : TFramedTransport(std::move(transport), std::move(config)) {}

 protected:
  bool readFrame() override {
    resetConsumedMessageSize();
    if (!TFramedTransport::readFrame()) return false;
    // Thrift never sends an empty frame; Thrift 0.17 would go on reading
    // from its null buffer (undefined behaviour, found by fuzzing).
    if (rBase_ == rBound_) {
      throw apache::thrift::transport::TTransportException(
          apache::thrift::transport::TTransportException::CORRUPTED_DATA, "empty frame");
    }
    return true;
  }
};

}  // namespace beacon::rpc
