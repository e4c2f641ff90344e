#include "votes/voting_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/clock.h"

namespace beacon::votes {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::StrictMock;

class MockVoteStore : public VoteStore {
 public:
  MOCK_METHOD(Result<Poll>, CreatePoll,
              (const std::string&, const std::vector<std::string>&, const std::string&,
               int64_t),
              (override));
  MOCK_METHOD(Result<Receipt>, CastVote,
              (int64_t, const std::string&, const std::string&, const std::string&,
               int64_t),
              (override));
  MOCK_METHOD(Result<PollResults>, Results, (int64_t), (override));
  MOCK_METHOD(Result<std::vector<Poll>>, ListPolls, (int), (override));
  MOCK_METHOD(Result<Poll>, ClosePoll, (int64_t), (override));
};

constexpr int64_t kNow = 1'700'000'000'123;
const std::vector<std::string> kTwoOptions = {"yes", "no"};

// A StrictMock fails the test on any call not expected, so every rejected
// input below also proves the store was never reached.
class VotingRulesTest : public ::testing::Test {
 protected:
  StrictMock<MockVoteStore> store_;
  VotingRules rules_{store_, "replica-1", [] { return kNow; }};
};

void ExpectInvalid(const Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(field));
}

Poll SamplePoll() {
  Poll poll;
  poll.poll_id = 7;
  poll.question = "q";
  poll.options = kTwoOptions;
  return poll;
}

// --- CreatePoll ---

TEST_F(VotingRulesTest, CreatePollPassesTextVerbatimWithTheClockTime) {
  const std::string question = "Robert'); DROP TABLE votes;-- Zürich 東京 🗳?";
  const std::vector<std::string> options = {"' OR 1=1 --", "東京", "🗳", "%_\\"};
  EXPECT_CALL(store_, CreatePoll(question, options, "req-1.a_B", kNow))
      .WillOnce(Return(SamplePoll()));
  Result<Poll> poll = rules_.CreatePoll(question, options, "req-1.a_B");
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->poll_id, 7);
}

TEST_F(VotingRulesTest, CreatePollAcceptsEmptyRequestId) {
  EXPECT_CALL(store_, CreatePoll("q", kTwoOptions, "", kNow))
      .WillOnce(Return(SamplePoll()));
  EXPECT_TRUE(rules_.CreatePoll("q", kTwoOptions, "").ok());
}

TEST_F(VotingRulesTest, CreatePollAcceptsBoundaryLengths) {
  const std::string question(500, 'q');
  std::vector<std::string> options;
  for (int i = 0; i < 32; ++i) options.push_back(std::string(99, 'o') + char('A' + i));
  const std::string request_id(64, 'r');
  EXPECT_CALL(store_, CreatePoll(question, options, request_id, kNow))
      .WillOnce(Return(SamplePoll()));
  EXPECT_TRUE(rules_.CreatePoll(question, options, request_id).ok());
}

TEST_F(VotingRulesTest, CreatePollRejectsEmptyOrTooLongQuestion) {
  ExpectInvalid(rules_.CreatePoll("", kTwoOptions, "").status(), "question");
  ExpectInvalid(rules_.CreatePoll(std::string(501, 'q'), kTwoOptions, "").status(),
                "question");
}

TEST_F(VotingRulesTest, CreatePollRejectsControlCharactersAndBrokenUtf8InQuestion) {
  ExpectInvalid(rules_.CreatePoll("line\nbreak", kTwoOptions, "").status(), "question");
  ExpectInvalid(rules_.CreatePoll(std::string("nul\0byte", 8), kTwoOptions, "").status(),
                "question");
  ExpectInvalid(rules_.CreatePoll("bad \xC3", kTwoOptions, "").status(), "question");
}

TEST_F(VotingRulesTest, CreatePollRejectsTooFewOrTooManyOptions) {
  ExpectInvalid(rules_.CreatePoll("q", {}, "").status(), "options");
  ExpectInvalid(rules_.CreatePoll("q", {"only"}, "").status(), "options");
  std::vector<std::string> many;
  for (int i = 0; i < 33; ++i) many.push_back("o" + std::to_string(i));
  ExpectInvalid(rules_.CreatePoll("q", many, "").status(), "options");
}

TEST_F(VotingRulesTest, CreatePollRejectsEmptyTooLongOrControlOptionNamingItsIndex) {
  ExpectInvalid(rules_.CreatePoll("q", {"a", ""}, "").status(), "options[1]");
  ExpectInvalid(rules_.CreatePoll("q", {std::string(101, 'x'), "b"}, "").status(),
                "options[0]");
  ExpectInvalid(rules_.CreatePoll("q", {"a", "b", "tab\there"}, "").status(),
                "options[2]");
}

TEST_F(VotingRulesTest, CreatePollRejectsDuplicateOptionNamingBoth) {
  Status s = rules_.CreatePoll("q", {"red", "blue", "red"}, "").status();
  ExpectInvalid(s, "options[2]");
  EXPECT_THAT(s.message(), HasSubstr("\"red\""));
  EXPECT_THAT(s.message(), HasSubstr("options[0]"));
}

TEST_F(VotingRulesTest, CreatePollTreatsOptionsDifferingOnlyInCaseAsDistinct) {
  EXPECT_CALL(store_, CreatePoll("q", std::vector<std::string>{"Red", "red"}, "", kNow))
      .WillOnce(Return(SamplePoll()));
  EXPECT_TRUE(rules_.CreatePoll("q", {"Red", "red"}, "").ok());
}

TEST_F(VotingRulesTest, CreatePollRejectsMalformedRequestId) {
  ExpectInvalid(rules_.CreatePoll("q", kTwoOptions, "has space").status(), "request_id");
  ExpectInvalid(rules_.CreatePoll("q", kTwoOptions, "semi;colon").status(), "request_id");
  ExpectInvalid(rules_.CreatePoll("q", kTwoOptions, std::string(65, 'r')).status(),
                "request_id");
}

TEST_F(VotingRulesTest, CreatePollReturnsStoreErrorUnchanged) {
  EXPECT_CALL(store_, CreatePoll(_, _, _, _))
      .WillOnce(Return(Unavailable("database busy for 2000 ms")));
  EXPECT_EQ(rules_.CreatePoll("q", kTwoOptions, "").status(),
            Unavailable("database busy for 2000 ms"));
}

// --- CastVote ---

TEST_F(VotingRulesTest, CastVotePassesInputVerbatimWithInstanceIdAndClockTime) {
  const std::string voter = "Robert'); DROP TABLE votes;--";
  const std::string option = "Zürich 東京 🗳";
  Receipt receipt;
  receipt.vote_id = 3;
  EXPECT_CALL(store_, CastVote(7, voter, option, "replica-1", kNow))
      .WillOnce(Return(receipt));
  Result<Receipt> r = rules_.CastVote(7, voter, option);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->vote_id, 3);
}

TEST_F(VotingRulesTest, CastVoteAcceptsBoundaryLengths) {
  const std::string voter(64, 'v');
  const std::string option(100, 'o');
  EXPECT_CALL(store_, CastVote(1, voter, option, "replica-1", kNow))
      .WillOnce(Return(Receipt{}));
  EXPECT_TRUE(rules_.CastVote(1, voter, option).ok());
}

TEST_F(VotingRulesTest, CastVoteRejectsPollIdBelowOne) {
  ExpectInvalid(rules_.CastVote(0, "v", "o").status(), "poll_id");
  ExpectInvalid(rules_.CastVote(-5, "v", "o").status(), "poll_id");
}

TEST_F(VotingRulesTest, CastVoteRejectsBadVoterId) {
  ExpectInvalid(rules_.CastVote(1, "", "o").status(), "voter_id");
  ExpectInvalid(rules_.CastVote(1, std::string(65, 'v'), "o").status(), "voter_id");
  ExpectInvalid(rules_.CastVote(1, "new\nline", "o").status(), "voter_id");
  ExpectInvalid(rules_.CastVote(1, "\xFF\xFE", "o").status(), "voter_id");
}

TEST_F(VotingRulesTest, CastVoteRejectsBadOption) {
  ExpectInvalid(rules_.CastVote(1, "v", "").status(), "option");
  ExpectInvalid(rules_.CastVote(1, "v", std::string(101, 'o')).status(), "option");
  ExpectInvalid(rules_.CastVote(1, "v", "del\x7F").status(), "option");
}

TEST_F(VotingRulesTest, CastVoteReturnsStoreErrorUnchanged) {
  EXPECT_CALL(store_, CastVote(_, _, _, _, _))
      .WillOnce(Return(AlreadyVoted("voter \"v\" already voted \"a\" in poll 1")));
  EXPECT_EQ(rules_.CastVote(1, "v", "b").status().code(), StatusCode::kAlreadyVoted);
}

// --- Results, ClosePoll ---

TEST_F(VotingRulesTest, ResultsRejectsPollIdBelowOneAndPassesValidOnes) {
  ExpectInvalid(rules_.Results(0).status(), "poll_id");
  EXPECT_CALL(store_, Results(1)).WillOnce(Return(NotFound("poll 1 not found")));
  EXPECT_EQ(rules_.Results(1).status().code(), StatusCode::kNotFound);
}

TEST_F(VotingRulesTest, ClosePollRejectsPollIdBelowOneAndPassesValidOnes) {
  ExpectInvalid(rules_.ClosePoll(-1).status(), "poll_id");
  EXPECT_CALL(store_, ClosePoll(9)).WillOnce(Return(SamplePoll()));
  EXPECT_TRUE(rules_.ClosePoll(9).ok());
}

// --- ListPolls ---

TEST_F(VotingRulesTest, ListPollsZeroMeansDefaultOfOneHundred) {
  EXPECT_CALL(store_, ListPolls(100)).WillOnce(Return(std::vector<Poll>{}));
  EXPECT_TRUE(rules_.ListPolls(0).ok());
}

TEST_F(VotingRulesTest, ListPollsAcceptsOneAndOneThousand) {
  EXPECT_CALL(store_, ListPolls(1)).WillOnce(Return(std::vector<Poll>{}));
  EXPECT_CALL(store_, ListPolls(1000)).WillOnce(Return(std::vector<Poll>{}));
  EXPECT_TRUE(rules_.ListPolls(1).ok());
  EXPECT_TRUE(rules_.ListPolls(1000).ok());
}

TEST_F(VotingRulesTest, ListPollsRejectsNegativeAndAboveOneThousand) {
  ExpectInvalid(rules_.ListPolls(-1).status(), "limit");
  ExpectInvalid(rules_.ListPolls(1001).status(), "limit");
}

TEST(VotingRules, DefaultClockStampsWallClockTime) {
  StrictMock<MockVoteStore> store;
  VotingRules rules(store, "r");
  const int64_t before = WallClockMillis();
  int64_t seen = 0;
  EXPECT_CALL(store, CastVote(1, "v", "o", "r", _))
      .WillOnce([&](int64_t, const std::string&, const std::string&, const std::string&,
                    int64_t now_ms) {
        seen = now_ms;
        return Result<Receipt>(Receipt{});
      });
  ASSERT_TRUE(rules.CastVote(1, "v", "o").ok());
  EXPECT_GE(seen, before);
  EXPECT_LE(seen, WallClockMillis());
}

}  // namespace
}  // namespace beacon::votes
