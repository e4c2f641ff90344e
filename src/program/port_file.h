// --port-file: a program writes the port it really bound, so scripts and tests
// can start servers on port 0 without racing for a free port.
#pragma once

#include <string>

#include "core/status.h"

namespace beacon::program {

// Writes "PORT\n" to path atomically (temp file + rename), so a reader never
// sees a partial number. kUnavailable naming the path when it cannot.
Status WritePortFile(const std::string& path, int port);

}  // namespace beacon::program
