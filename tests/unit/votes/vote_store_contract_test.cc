// The VoteStore contract: one suite run against every store (SQLite on a
// temporary file; PostgreSQL on a real server this test starts), so both
// keep the same promises. Instances are named .../Sqlite and .../Postgres;
// the PostgreSQL ones run as the ctest test votes_contract_test_postgres.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "postgres_server.h"
#include "temp_dir.h"
#include "vote_store_helpers.h"
#include "votes/open_vote_store.h"

namespace beacon::votes {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PostgresServer;

using store_testing::kT0;
const std::string kDropTable = "Robert'); DROP TABLE votes;--";
const std::string kUnicode = "Zürich 東京 🗳";

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// One PostgreSQL server for the whole suite (starting one takes a few
// seconds); each test gets a database of its own.
class SharedPostgres {
 public:
  static SharedPostgres& Get() {
    static SharedPostgres instance;
    return instance;
  }
  PostgresServer* server() { return server_.get(); }
  const std::string& error() const { return error_; }
  bool missing() const { return missing_; }

 private:
  SharedPostgres() { server_ = PostgresServer::Start(&error_, &missing_); }
  std::string error_;
  bool missing_ = false;
  std::unique_ptr<PostgresServer> server_;
};

class VoteStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      db_ = dir_.File("votes.db");
    } else {
      SharedPostgres& pg = SharedPostgres::Get();
      if (pg.missing()) GTEST_SKIP() << pg.error();
      ASSERT_NE(pg.server(), nullptr) << pg.error();
      static int databases = 0;
      const std::string name = "contract_" + std::to_string(++databases);
      std::string error;
      ASSERT_TRUE(pg.server()->CreateDatabase(name, &error)) << error;
      db_ = pg.server()->Uri(name);
    }
    store_ = OpenOrDie();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<VoteStore> OpenOrDie() {
    Result<std::unique_ptr<VoteStore>> store = OpenVoteStore(db_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  Poll MakePoll(std::vector<std::string> options = {"red", "green", "blue"},
                const std::string& request_id = "") {
    return store_testing::MakePoll(*store_, std::move(options), request_id);
  }
  Receipt VoteOrDie(int64_t poll_id, const std::string& voter, const std::string& option,
                    const std::string& recorded_by = "replica-1", int64_t now = kT0 + 1) {
    return store_testing::VoteOrDie(*store_, poll_id, voter, option, recorded_by, now);
  }
  std::vector<int64_t> Counts(int64_t poll_id) {
    return store_testing::Counts(*store_, poll_id);
  }

  TempDir dir_;
  std::string db_;  // SQLite path or PostgreSQL URI
  std::unique_ptr<VoteStore> store_;
};

// --- polls ---

TEST_P(VoteStoreContract, CreatePollReturnsItWithIdAndFields) {
  Poll poll = MakePoll();
  EXPECT_GE(poll.poll_id, 1);
  EXPECT_EQ(poll.question, "Favourite colour?");
  EXPECT_THAT(poll.options, ElementsAre("red", "green", "blue"));
  EXPECT_FALSE(poll.closed);
  EXPECT_EQ(poll.created_at_ms, kT0);
}

TEST_P(VoteStoreContract, HostileAndUnicodeTextRoundTripsVerbatim) {
  Result<Poll> created = store_->CreatePoll(kDropTable, {kDropTable, kUnicode}, "", kT0);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Receipt r = VoteOrDie(created->poll_id, kUnicode, kDropTable);
  EXPECT_EQ(r.voter_id, kUnicode);
  EXPECT_EQ(r.option, kDropTable);

  Result<PollResults> results = store_->Results(created->poll_id);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  EXPECT_EQ(results->poll.question, kDropTable);
  EXPECT_THAT(results->poll.options, ElementsAre(kDropTable, kUnicode));
  EXPECT_EQ(results->counts[0].option, kDropTable);
  EXPECT_EQ(results->counts[0].votes, 1);
  Result<std::vector<Poll>> listed = store_->ListPolls(10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->at(0).question, kDropTable);
  Receipt again = VoteOrDie(created->poll_id, kUnicode, kDropTable);
  EXPECT_TRUE(again.repeated);  // the votes table is still there
}

TEST_P(VoteStoreContract, CreatePollWithSameRequestIdReturnsTheFirstPoll) {
  Poll first = MakePoll({"a", "b"}, "req-1");
  Result<Poll> again =
      store_->CreatePoll("Another question", {"x", "y"}, "req-1", kT0 + 5);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->poll_id, first.poll_id);
  EXPECT_EQ(again->question, "Favourite colour?");
  EXPECT_THAT(again->options, ElementsAre("a", "b"));
  EXPECT_EQ(again->created_at_ms, kT0);
  EXPECT_EQ(store_->ListPolls(10)->size(), 1u);
}

TEST_P(VoteStoreContract, CreatePollWithoutRequestIdCreatesANewPollEachTime) {
  EXPECT_NE(MakePoll().poll_id, MakePoll().poll_id);
  EXPECT_EQ(store_->ListPolls(10)->size(), 2u);
}

TEST_P(VoteStoreContract, ListPollsOfEmptyStoreIsEmpty) {
  Result<std::vector<Poll>> polls = store_->ListPolls(100);
  ASSERT_TRUE(polls.ok()) << polls.status().ToString();
  EXPECT_TRUE(polls->empty());
}

TEST_P(VoteStoreContract, ListPollsIsNewestFirstAndLimited) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(MakePoll({"o" + std::to_string(i), "z"}).poll_id);
  Result<std::vector<Poll>> polls = store_->ListPolls(3);
  ASSERT_TRUE(polls.ok()) << polls.status().ToString();
  ASSERT_EQ(polls->size(), 3u);
  EXPECT_EQ(polls->at(0).poll_id, ids[4]);
  EXPECT_EQ(polls->at(1).poll_id, ids[3]);
  EXPECT_EQ(polls->at(2).poll_id, ids[2]);
  EXPECT_THAT(polls->at(0).options, ElementsAre("o4", "z"));
}

TEST_P(VoteStoreContract, ListPollsRejectsLimitBelowOne) {
  EXPECT_EQ(store_->ListPolls(0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(VoteStoreContract, ClosePollIsIdempotent) {
  Poll poll = MakePoll();
  Result<Poll> closed = store_->ClosePoll(poll.poll_id);
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_TRUE(closed->closed);
  Result<Poll> again = store_->ClosePoll(poll.poll_id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->closed);
  EXPECT_TRUE(store_->Results(poll.poll_id)->poll.closed);
}

TEST_P(VoteStoreContract, ClosePollOfUnknownPollIsNotFound) {
  Status s = store_->ClosePoll(42).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "poll 42 not found");
}

// --- votes ---

TEST_P(VoteStoreContract, CastVoteReturnsANewReceipt) {
  Poll poll = MakePoll();
  Receipt r = VoteOrDie(poll.poll_id, "alice", "green", "replica-2", kT0 + 7);
  EXPECT_GE(r.vote_id, 1);
  EXPECT_EQ(r.poll_id, poll.poll_id);
  EXPECT_EQ(r.voter_id, "alice");
  EXPECT_EQ(r.option, "green");
  EXPECT_EQ(r.cast_at_ms, kT0 + 7);
  EXPECT_EQ(r.recorded_by, "replica-2");
  EXPECT_FALSE(r.repeated);
}

TEST_P(VoteStoreContract, RepeatedIdenticalVoteReturnsOriginalReceipt) {
  Poll poll = MakePoll();
  Receipt first = VoteOrDie(poll.poll_id, "alice", "green", "replica-1", kT0 + 1);
  Receipt second = VoteOrDie(poll.poll_id, "alice", "green", "replica-2", kT0 + 99);
  EXPECT_TRUE(second.repeated);
  EXPECT_EQ(second.vote_id, first.vote_id);
  EXPECT_EQ(second.cast_at_ms, kT0 + 1);
  EXPECT_EQ(second.recorded_by, "replica-1");
  EXPECT_THAT(Counts(poll.poll_id), ElementsAre(0, 1, 0));
}

TEST_P(VoteStoreContract, DifferentOptionFromSameVoterIsAlreadyVoted) {
  Poll poll = MakePoll();
  VoteOrDie(poll.poll_id, "alice", "green");
  Status s = store_->CastVote(poll.poll_id, "alice", "red", "replica-1", kT0).status();
  EXPECT_EQ(s.code(), StatusCode::kAlreadyVoted);
  EXPECT_EQ(s.message(), "voter \"alice\" already voted \"green\" in poll " +
                             std::to_string(poll.poll_id));
  EXPECT_THAT(Counts(poll.poll_id), ElementsAre(0, 1, 0));
}

TEST_P(VoteStoreContract, SameVoterMayVoteOnceInEachPoll) {
  Poll a = MakePoll();
  Poll b = MakePoll();
  EXPECT_FALSE(VoteOrDie(a.poll_id, "alice", "red").repeated);
  EXPECT_FALSE(VoteOrDie(b.poll_id, "alice", "blue").repeated);
}

TEST_P(VoteStoreContract, VoterIdsDifferingOnlyInCaseAreDifferentVoters) {
  Poll poll = MakePoll();
  VoteOrDie(poll.poll_id, "alice", "red");
  EXPECT_FALSE(VoteOrDie(poll.poll_id, "Alice", "blue").repeated);
}

TEST_P(VoteStoreContract, VoteOnUnknownPollIsNotFound) {
  Status s = store_->CastVote(999, "alice", "red", "replica-1", kT0).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "poll 999 not found");
}

TEST_P(VoteStoreContract, OptionNotInPollIsInvalidArgument) {
  Poll poll = MakePoll();
  Status s = store_->CastVote(poll.poll_id, "alice", "Red", "replica-1", kT0).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "option \"Red\" is not an option of poll " + std::to_string(poll.poll_id));
  EXPECT_THAT(Counts(poll.poll_id), ElementsAre(0, 0, 0));
}

TEST_P(VoteStoreContract, OptionOfAnotherPollIsInvalidArgument) {
  Poll poll = MakePoll();
  MakePoll({"cats", "dogs"});
  EXPECT_EQ(store_->CastVote(poll.poll_id, "alice", "cats", "r", kT0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(VoteStoreContract, VoteOnClosedPollIsConflict) {
  Poll poll = MakePoll();
  ASSERT_TRUE(store_->ClosePoll(poll.poll_id).ok());
  Status s = store_->CastVote(poll.poll_id, "alice", "red", "replica-1", kT0).status();
  EXPECT_EQ(s.code(), StatusCode::kConflict);
  EXPECT_THAT(s.message(), HasSubstr("closed"));
  EXPECT_THAT(Counts(poll.poll_id), ElementsAre(0, 0, 0));
}

TEST_P(VoteStoreContract, IdenticalRepeatOfVoteRecordedBeforeCloseReturnsItsReceipt) {
  Poll poll = MakePoll();
  Receipt first = VoteOrDie(poll.poll_id, "alice", "red");
  ASSERT_TRUE(store_->ClosePoll(poll.poll_id).ok());
  Receipt retry = VoteOrDie(poll.poll_id, "alice", "red");
  EXPECT_TRUE(retry.repeated);
  EXPECT_EQ(retry.vote_id, first.vote_id);
}

TEST_P(VoteStoreContract, VoterWhoChoseAnotherOptionGetsAlreadyVotedEvenOnClosedPoll) {
  Poll poll = MakePoll();
  VoteOrDie(poll.poll_id, "alice", "red");
  ASSERT_TRUE(store_->ClosePoll(poll.poll_id).ok());
  EXPECT_EQ(store_->CastVote(poll.poll_id, "alice", "blue", "r", kT0).status().code(),
            StatusCode::kAlreadyVoted);
}

TEST_P(VoteStoreContract, ResultsCountInOptionOrderWithZerosAndTotal) {
  Poll poll = MakePoll({"red", "green", "blue", "none"});
  VoteOrDie(poll.poll_id, "a", "blue");
  VoteOrDie(poll.poll_id, "b", "red");
  VoteOrDie(poll.poll_id, "c", "blue");
  Result<PollResults> results = store_->Results(poll.poll_id);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->counts.size(), 4u);
  EXPECT_EQ(results->counts[0].option, "red");
  EXPECT_EQ(results->counts[3].option, "none");
  EXPECT_THAT(Counts(poll.poll_id), ElementsAre(1, 0, 2, 0));
  EXPECT_EQ(results->total, 3);
  EXPECT_EQ(results->poll.poll_id, poll.poll_id);
}

TEST_P(VoteStoreContract, ResultsOfUnknownPollIsNotFound) {
  Status s = store_->Results(5).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "poll 5 not found");
}

// --- reopening ---

TEST_P(VoteStoreContract, ReopenKeepsPollsAndVotes) {
  Poll poll = MakePoll();
  Receipt first = VoteOrDie(poll.poll_id, "alice", "blue");
  store_.reset();
  store_ = OpenOrDie();
  ASSERT_NE(store_, nullptr);
  EXPECT_THAT(Counts(poll.poll_id), ElementsAre(0, 0, 1));
  EXPECT_EQ(VoteOrDie(poll.poll_id, "alice", "blue").vote_id, first.vote_id);
}

TEST_P(VoteStoreContract, ReopeningDoesNotReapplyMigrations) {
  // Re-running 001 would fail (CREATE TABLE polls exists); a second and third
  // Open must see user_version and skip it.
  MakePoll();
  store_.reset();
  for (int i = 0; i < 2; ++i) {
    store_ = OpenOrDie();
    ASSERT_NE(store_, nullptr);
  }
  EXPECT_EQ(store_->ListPolls(10)->size(), 1u);
}

// --- several replicas on one database ---

TEST_P(VoteStoreContract, WritesThroughOneStoreAreReadThroughAnother) {
  std::unique_ptr<VoteStore> other = OpenOrDie();
  ASSERT_NE(other, nullptr);
  Poll poll = MakePoll();
  Receipt first = VoteOrDie(poll.poll_id, "alice", "red", "replica-1");
  Result<PollResults> seen = other->Results(poll.poll_id);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->total, 1);
  Result<Receipt> again =
      other->CastVote(poll.poll_id, "alice", "red", "replica-2", kT0 + 9);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(again->vote_id, first.vote_id);
  EXPECT_EQ(again->recorded_by, "replica-1");
  ASSERT_TRUE(other->ClosePoll(poll.poll_id).ok());
  EXPECT_EQ(
      store_->CastVote(poll.poll_id, "bob", "red", "replica-1", kT0).status().code(),
      StatusCode::kConflict);
}

TEST_P(VoteStoreContract, RacingStoresRecordEachVoterExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kVoters = 40;
  std::vector<std::unique_ptr<VoteStore>> stores;
  for (int i = 0; i < 2; ++i) stores.push_back(OpenOrDie());
  for (auto& s : stores) ASSERT_NE(s, nullptr);
  Poll poll = MakePoll({"a", "b"});
  std::atomic<int> failures{0};
  std::vector<std::set<int64_t>> ids(kVoters);
  std::vector<std::thread> threads;
  std::vector<std::vector<std::pair<int, int64_t>>> seen(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      VoteStore& store = *stores[static_cast<size_t>(t % 2)];
      for (int v = 0; v < kVoters; ++v) {
        Result<Receipt> r =
            store.CastVote(poll.poll_id, "voter-" + std::to_string(v), v % 2 ? "a" : "b",
                           "r" + std::to_string(t), kT0);
        if (!r.ok()) {
          ++failures;
          continue;
        }
        seen[static_cast<size_t>(t)].emplace_back(v, r->vote_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (const auto& list : seen) {
    for (const auto& [voter, id] : list) ids[static_cast<size_t>(voter)].insert(id);
  }
  for (int v = 0; v < kVoters; ++v)
    EXPECT_EQ(ids[static_cast<size_t>(v)].size(), 1u) << v;
  EXPECT_THAT(Counts(poll.poll_id), ElementsAre(kVoters / 2, kVoters / 2));
}

INSTANTIATE_TEST_SUITE_P(Stores, VoteStoreContract,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         BackendName);

}  // namespace
}  // namespace beacon::votes
