// Small checks the cluster fault tests share: create a poll, compare the
// database's tally with the receipts clients were given, see who the
// registry lists, and time how long something took.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "load_run.h"

namespace beacon::faults {

// Creates a poll through replica `via`; 0 (and a test failure) when it cannot.
int64_t CreatePoll(testing::ReplicaProcess& via, const std::string& question,
                   const std::vector<std::string>& options);

// Ok when the poll's counts, read through `via`, are exactly the acknowledged
// votes: every voter counted once, for the option on its receipts. Otherwise
// a message saying what differs.
::testing::AssertionResult TallyMatchesReceipts(testing::ReplicaProcess& via,
                                                int64_t poll_id,
                                                const std::vector<AckedVote>& votes);

// Whether `service`'s live membership lists `instance_id` (false when the
// registry does not answer).
bool Lists(const testing::Cluster& cluster, const std::string& service,
           const std::string& instance_id);

// Prints the run's numbers into the test log (picked up by ctest's output).
void PrintRun(const std::string& what, const LoadRun& run);

// A latency bound stretched for slow builds: ms times BEACON_TEST_TIME_SCALE
// (a positive integer, default 1; scripts/sanitize sets 3 under ASan and 10
// under TSan). Only slack and waiting are scaled, never the behaviour under
// test (a lease TTL stays what the server was given).
int Scaled(int ms);

// Milliseconds since `start` on the steady clock.
inline int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace beacon::faults
