// MessageFramedTransport: Thrift's framed transport with the message-size
// budget counted per message, as TConfiguration intends.
//
// Thrift 0.17 counts the bytes a protocol reads (strings, containers) against
// max_message_size but never resets that count between messages on one
// connection, so a long-lived connection dies after max_message_size bytes in
// total (with our 1 MiB limit: ~40k registry lookups, ~80k isPrime calls).
// Resetting the budget at every frame keeps the limit per message: a single
// hostile frame is still refused before allocation (frame size check) and a
// single message still cannot claim more than the limit.
#pragma once

#include <memory>

#include <thrift/TConfiguration.h>
#include <thrift/transport/TBufferTransports.h>

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
    return TFramedTransport::readFrame();
  }
};

}  // namespace beacon::rpc
