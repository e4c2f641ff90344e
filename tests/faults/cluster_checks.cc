#include "cluster_checks.h"

#include <cstdio>
#include <cstdlib>

#include "Voting.h"

namespace beacon::faults {

int Scaled(int ms) {
  static const int scale = [] {
    const char* s = std::getenv("BEACON_TEST_TIME_SCALE");
    const int v = s ? std::atoi(s) : 1;
    return v >= 1 ? v : 1;
  }();
  return ms * scale;
}

int64_t CreatePoll(testing::ReplicaProcess& via, const std::string& question,
                   const std::vector<std::string>& options) {
  auto conn = via.Connect();
  if (conn == nullptr) {
    ADD_FAILURE() << "cannot connect to " << via.id();
    return 0;
  }
  idl::CreatePollReply reply;
  try {
    conn->voting().createPoll(reply, question, options, "");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "createPoll: " << e.what();
    return 0;
  }
  return reply.poll.poll_id;
}

::testing::AssertionResult TallyMatchesReceipts(testing::ReplicaProcess& via,
                                                int64_t poll_id,
                                                const std::vector<AckedVote>& votes) {
  std::string error;
  const auto acknowledged = AcknowledgedOptions(votes, &error);
  if (!error.empty()) return ::testing::AssertionFailure() << error;
  std::map<std::string, int64_t> expected;
  for (const auto& [voter, option] : acknowledged) ++expected[option];

  auto conn = via.Connect();
  if (conn == nullptr)
    return ::testing::AssertionFailure() << "cannot connect to " << via.id();
  idl::PollResults results;
  try {
    conn->voting().results(results, poll_id);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "results: " << e.what();
  }
  std::string diff;
  for (const auto& count : results.counts) {
    const int64_t want = expected.count(count.option) ? expected.at(count.option) : 0;
    if (count.votes != want) {
      diff += " " + count.option + ": counted " + std::to_string(count.votes) +
              ", acknowledged " + std::to_string(want) + ";";
    }
  }
  if (results.total != static_cast<int64_t>(acknowledged.size())) {
    diff += " total counted " + std::to_string(results.total) + ", acknowledged voters " +
            std::to_string(acknowledged.size());
  }
  if (!diff.empty()) return ::testing::AssertionFailure() << "tally differs:" << diff;
  return ::testing::AssertionSuccess()
         << results.total << " votes counted, each acknowledged exactly once";
}

bool Lists(const testing::Cluster& cluster, const std::string& service,
           const std::string& instance_id) {
  auto m = cluster.RegistryClient()->Lookup(service);
  if (!m.ok()) return false;
  for (const auto& i : m->instances) {
    if (i.id == instance_id) return true;
  }
  return false;
}

void PrintRun(const std::string& what, const LoadRun& run) {
  std::string per_replica;
  for (const auto& [id, n] : run.served_by())
    per_replica += " " + id + "=" + std::to_string(n);
  std::printf(
      "[%s] calls=%lld failures=%lld inconsistencies=%lld retries=%lld "
      "slowest=%lld ms served:%s\n",
      what.c_str(), static_cast<long long>(run.calls()),
      static_cast<long long>(run.failures()),
      static_cast<long long>(run.inconsistencies()),
      static_cast<long long>(run.retries()), static_cast<long long>(run.max_call_ms()),
      per_replica.c_str());
  for (const auto& s : run.samples()) std::printf("  %s\n", s.c_str());
  std::fflush(stdout);
}

}  // namespace beacon::faults
