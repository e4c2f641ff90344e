// The client's commands: one function each, taking parsed arguments and a
// session, returning what to print. Parsing and printing live in main.cc;
// load generation in load.cc.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/session.h"
#include "core/status.h"

namespace beacon::client_app {

// Exit codes: distinct for usage errors, errors the service answered with,
// and servers that could not be reached.
inline constexpr int kExitOk = 0;
inline constexpr int kExitServiceError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;

// What a command produced: a JSON document (keys follow the IDL's field
// names) and its plain-text rendering, or an error.
struct CommandOutput {
  int exit_code = kExitOk;
  nlohmann::json json;
  std::string text;  // for people; ends without a newline
  Status error;      // set when exit_code != 0
};

// Creates the session lazily, the first time a command needs one, so usage
// errors never touch the network.
using SessionProvider = std::function<Result<client::Session*>()>;

struct CommandSpec {
  std::string name;
  std::string usage;    // "vote POLL VOTER OPTION"
  std::string summary;  // one line
  std::string details;  // shown by `COMMAND --help`
  int min_args;
  int max_args;  // -1: unbounded
  std::function<CommandOutput(const std::vector<std::string>& args,
                              const SessionProvider&)>
      run;
};

// Every command that runs against a session (shell and load are handled by
// main.cc), in help order.
const std::vector<CommandSpec>& Commands();
const CommandSpec* FindCommand(const std::string& name);

// Maps a failed status to the command's exit code (usage/service/unavailable).
CommandOutput Failure(const Status& status);
// A malformed argument: exit code kExitUsage.
CommandOutput UsageFailure(const Status& status);

// Splits a shell line into words: whitespace separates; "double" and
// 'single' quotes group; backslash escapes the next character outside single
// quotes. kInvalidArgument for an unterminated quote.
Result<std::vector<std::string>> SplitWords(const std::string& line);

}  // namespace beacon::client_app
