// Log set-up shared by every program: spdlog to stderr with a timestamp.
#pragma once

#include <string>

#include "core/status.h"

namespace beacon::program {

// level: trace, debug, info, warn, error, off. kInvalidArgument otherwise.
// `program` prefixes every line ("registry_svc"). Call once at start.
Status SetUpLogging(const std::string& program, const std::string& level);

}  // namespace beacon::program
