// 16 client sessions cast 500 votes each through 3 replicas on one database,
// with voters shared between clients, identical repeats and conflicting
// second choices.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "client/session.h"
#include "cluster_checks.h"
#include "load_run.h"
#include "store_under_test.h"

namespace beacon {
namespace {

using faults::AckedVote;
using testing::Cluster;

constexpr int kClients = 16;
constexpr int kVotesPerClient = 500;
constexpr int kVoters = 600;           // per poll; 8000 votes over 1200 pairs
constexpr int kOtherChoiceEvery = 10;  // 1 vote in 10 picks a random option

class ConcurrentVoting : public ::testing::TestWithParam<faults::Store> {};

TEST_P(ConcurrentVoting, TallyEqualsDistinctPollVoterPairs) {
  Cluster cluster(0);
  faults::StoreUnderTest store(GetParam(), cluster);
  if (store.missing()) GTEST_SKIP() << store.error();
  ASSERT_TRUE(store.ok()) << store.error();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(faults::AddReplica(cluster, store.db()).ok());
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  ASSERT_TRUE(cluster.WaitForInstances("voting", 3, faults::Scaled(10000)));
  const std::vector<std::string> options = {"x", "y", "z"};
  const std::vector<int64_t> polls = {
      faults::CreatePoll(*cluster.replicas()[0], "First?", options),
      faults::CreatePoll(*cluster.replicas()[1], "Second?", options)};
  for (int64_t p : polls) ASSERT_GT(p, 0);

  std::mutex mu;
  std::map<int64_t, std::vector<AckedVote>> receipts;  // by poll. Guarded by mu
  std::map<int64_t, std::set<std::string>> attempted;  // by poll. Guarded by mu
  std::map<std::string, int64_t> served;               // Guarded by mu
  std::vector<std::string> failures;                   // Guarded by mu
  std::atomic<int64_t> already_voted{0};

  std::vector<std::thread> clients;
  for (int k = 0; k < kClients; ++k) {
    clients.emplace_back([&, k] {
      client::SessionOptions session_options;
      session_options.registries = {Endpoint{"127.0.0.1", cluster.registry().port()}};
      auto session = client::Session::Create(session_options);
      if (!session.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(session.status().ToString());
        return;
      }
      std::mt19937 rng(static_cast<unsigned>(k) + 1);
      for (int i = 0; i < kVotesPerClient; ++i) {
        const int64_t poll = polls[rng() % polls.size()];
        const std::string voter = "voter-" + std::to_string(rng() % kVoters);
        // Each voter has a favourite per poll; now and then one tries another.
        const size_t favourite =
            std::hash<std::string>{}(voter + std::to_string(poll)) % 3;
        const std::string option =
            options[rng() % kOtherChoiceEvery == 0 ? rng() % options.size() : favourite];
        auto receipt = (*session)->CastVote(poll, voter, option);
        std::lock_guard<std::mutex> lock(mu);
        if (receipt.ok()) {
          attempted[poll].insert(voter);
          receipts[poll].push_back(AckedVote{voter, receipt->option, receipt->vote_id,
                                             receipt->repeated, receipt->served_by});
          ++served[receipt->served_by];
        } else if (receipt.status().code() == StatusCode::kAlreadyVoted) {
          attempted[poll].insert(voter);  // refused because a vote is recorded
          ++already_voted;
        } else {
          failures.push_back(voter + ": " + receipt.status().ToString());
        }
      }
    });
  }
  for (auto& t : clients) t.join();

  int64_t acknowledged = 0;
  for (const auto& [poll, list] : receipts)
    acknowledged += static_cast<int64_t>(list.size());
  std::printf(
      "[concurrent voting] %d votes: %lld acknowledged, %lld already_voted, %zu failed;"
      " pairs %zu + %zu\n",
      kClients * kVotesPerClient, static_cast<long long>(acknowledged),
      static_cast<long long>(already_voted.load()), failures.size(),
      attempted[polls[0]].size(), attempted[polls[1]].size());
  ASSERT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures[0];
  EXPECT_EQ(acknowledged + already_voted.load(), kClients * kVotesPerClient);
  ASSERT_EQ(served.size(), 3u) << "votes should spread over every replica";

  auto via = cluster.replicas()[2]->Connect();
  ASSERT_NE(via, nullptr);
  std::set<int64_t> vote_ids;
  for (int64_t poll : polls) {
    // Every pair that was attempted holds exactly one vote, and it is the one
    // every receipt for that pair named.
    EXPECT_TRUE(
        faults::TallyMatchesReceipts(*cluster.replicas()[2], poll, receipts[poll]));
    idl::PollResults results;
    via->voting().results(results, poll);
    EXPECT_EQ(results.total, static_cast<int64_t>(attempted[poll].size()))
        << "poll " << poll;
    for (const auto& v : receipts[poll]) vote_ids.insert(v.vote_id);
  }
  // Vote ids are unique across both polls.
  EXPECT_EQ(vote_ids.size(), attempted[polls[0]].size() + attempted[polls[1]].size());
}

INSTANTIATE_TEST_SUITE_P(Stores, ConcurrentVoting,
                         ::testing::Values(faults::Store::kSqlite,
                                           faults::Store::kPostgres),
                         faults::StoreName);

}  // namespace
}  // namespace beacon
