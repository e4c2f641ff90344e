// Test helpers over any VoteStore (the SQLite tests and the contract suite
// that runs on SQLite and PostgreSQL): each records a gtest failure and
// returns an empty value when the store refuses.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "votes/vote_store.h"

namespace beacon::votes::store_testing {

// The time every helper stamps its writes with.
inline constexpr int64_t kT0 = 1'700'000'000'000;

inline Poll MakePoll(VoteStore& store,
                     std::vector<std::string> options = {"red", "green", "blue"},
                     const std::string& request_id = "") {
  Result<Poll> poll = store.CreatePoll("Favourite colour?", options, request_id, kT0);
  EXPECT_TRUE(poll.ok()) << poll.status().ToString();
  return poll.ok() ? *poll : Poll{};
}

inline Receipt VoteOrDie(VoteStore& store, int64_t poll_id, const std::string& voter,
                         const std::string& option,
                         const std::string& recorded_by = "replica-1",
                         int64_t now = kT0 + 1) {
  Result<Receipt> r = store.CastVote(poll_id, voter, option, recorded_by, now);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Receipt{};
}

// Votes per option, in the poll's option order.
inline std::vector<int64_t> Counts(VoteStore& store, int64_t poll_id) {
  Result<PollResults> results = store.Results(poll_id);
  EXPECT_TRUE(results.ok()) << results.status().ToString();
  std::vector<int64_t> counts;
  if (results.ok()) {
    for (const OptionCount& c : results->counts) counts.push_back(c.votes);
  }
  return counts;
}

}  // namespace beacon::votes::store_testing
