// Command-line flags with environment fallbacks, shared by every program.
//
// Every long flag --foo-bar can also be set by the environment variable
// BEACON_FOO_BAR; the command line wins. This is what lets containers run the
// programs with no command line at all.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace beacon::program {

// "lease-ttl-ms" -> "BEACON_LEASE_TTL_MS".
std::string EnvironmentName(const std::string& flag);

// Parses argv against `desc`, then the BEACON_* environment for flags absent
// from argv, and notifies. Unknown flags, bad values and unexpected positional
// arguments give kInvalidArgument with boost's message (names the flag).
Status ParseFlags(int argc, const char* const* argv,
                  const boost::program_options::options_description& desc,
                  boost::program_options::variables_map* vm);

// What every server's main() does first: parses flags (argv, then the
// BEACON_* environment), answers --help, and sets up logging at the level
// bound to `log_level` (a variable desc writes). Returns the exit code when
// the program should stop now (0 after --help, 2 for bad flags), nullopt to
// go on.
std::optional<int> StartProgram(const std::string& program, int argc, const char* const* argv,
                                const boost::program_options::options_description& desc,
                                const std::string& log_level);

// Appends a line per flag naming its environment variable, for --help.
std::string EnvironmentHelp(const boost::program_options::options_description& desc);

}  // namespace beacon::program
