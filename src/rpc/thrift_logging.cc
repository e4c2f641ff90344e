#include "rpc/thrift_logging.h"

#include <spdlog/spdlog.h>
#include <thrift/Thrift.h>

namespace beacon::rpc {

void RouteThriftOutputToDebugLog() {
  apache::thrift::GlobalOutput.setOutputFunction(
      [](const char* message) { spdlog::debug("thrift: {}", message); });
}

}  // namespace beacon::rpc
