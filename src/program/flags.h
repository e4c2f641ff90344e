// Command-line flags with environment fallbacks, shared by every program.
//
// Every long flag --foo-bar can also be set by the environment variable
// BEACON_FOO_BAR; the command line wins, and a variable set to "" counts as
// unset. This is what lets containers run the programs with no command line
// at all. Numbers are parsed strictly ("5000x", "", "1e3" and out-of-range
// values are refused) wherever they come from.
//
// Thread-safety: call from main before starting threads (reads environ).
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
// arguments give kInvalidArgument with boost's message (names the flag; for a
// bad environment value also the variable).
Status ParseFlags(int argc, const char* const* argv,
                  const boost::program_options::options_description& desc,
                  boost::program_options::variables_map* vm);

// For programs whose flags come before a command (client_app [FLAGS] COMMAND
// [ARGS]): parses argv[1..k) as ParseFlags does, where argv[k] is the first
// word that is neither a flag nor the value of the flag before it, and sets
// *command_index to k (argc when there is no command). The command's own
// words are left alone, even those that look like flags. Errors as ParseFlags.
Status ParseFlagsBeforeCommand(int argc, const char* const* argv,
                               const boost::program_options::options_description& desc,
                               boost::program_options::variables_map* vm,
                               int* command_index);

// What every server's main() does first: parses flags (argv, then the
// BEACON_* environment), answers --help, and sets up logging at the level
// bound to `log_level` (a variable desc writes). Returns the exit code when
// the program should stop now (0 after --help, 2 for bad flags), nullopt to
// go on.
std::optional<int> StartProgram(const std::string& program, int argc,
                                const char* const* argv,
                                const boost::program_options::options_description& desc,
                                const std::string& log_level);

// Appends a line per flag naming its environment variable, for --help.
std::string EnvironmentHelp(const boost::program_options::options_description& desc);

}  // namespace beacon::program
