// Thrift prints its own diagnostics (e.g. every refused connect) to stderr.
// Beacon reports those failures itself, so they go to spdlog at debug level.
#pragma once

namespace beacon::rpc {

// Call once at start, before any Thrift object is used.
void RouteThriftOutputToDebugLog();

}  // namespace beacon::rpc
