// The load generator: C concurrent client sessions in one process, each with
// its own cache, balancer and connections, calling a weighted mix of
// operations until a request count or a duration is reached.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/session.h"
#include "commands.h"

namespace beacon::client_app {

struct LoadOptions {
  int clients = 4;        // 1..1024
  int64_t requests = 0;   // total over all clients; 0: run for duration_s
  double duration_s = 0;  // 0: run for `requests`; at most 3600
  std::map<std::string, int> mix{{"prime", 1}};  // weights of prime, count, vote
  int64_t poll_id = 0;           // votes go here; 0: a poll is created for the run
  uint64_t count_width = 10000;  // HI-LO+1 of each count-primes call
  bool progress = false;         // live progress line on stderr
};

// Parses `load` arguments ("--clients 8 --requests 1000 --mix prime=3,vote=1").
// kInvalidArgument naming the flag.
Result<LoadOptions> ParseLoadArgs(const std::vector<std::string>& args);

// Runs the load and reports throughput, latency percentiles, errors by type
// and calls per replica. Errors of individual calls are counted, not fatal;
// the command fails only when the run cannot start (e.g. no poll).
CommandOutput RunLoad(const LoadOptions& options, const client::SessionOptions& session);

extern const char* const kLoadUsage;

}  // namespace beacon::client_app
