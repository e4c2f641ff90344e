// Test helper for the rpc tests: a ThriftServer serving one Prime handler.
#pragma once

#include <thrift/processor/TMultiplexedProcessor.h>

#include <memory>

#include "Prime.h"
#include "core/status.h"
#include "rpc/thrift_server.h"

namespace beacon::rpc {

// Starts a ThriftServer on 127.0.0.1, on a port the kernel picks (its
// port()), serving `handler` as the multiplexed "prime" service, refusing
// frames over `max_message_bytes`. The caller asserts on the result.
inline Result<std::unique_ptr<ThriftServer>> StartPrimeServer(
    std::shared_ptr<idl::PrimeIf> handler,
    int max_message_bytes = ServerOptions{}.max_message_bytes) {
  auto mux = std::make_shared<apache::thrift::TMultiplexedProcessor>();
  mux->registerProcessor("prime", std::make_shared<idl::PrimeProcessor>(handler));
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.max_message_bytes = max_message_bytes;
  return ThriftServer::Start(
      options, std::make_shared<apache::thrift::TSingletonProcessorFactory>(mux));
}

}  // namespace beacon::rpc
