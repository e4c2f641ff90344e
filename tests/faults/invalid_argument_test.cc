// Every invalid argument of every method, over the wire to real processes:
// each gets its service's typed error with the right code and a message
// naming the field (or the unknown id). And text full of SQL metacharacters
// and non-ASCII characters is stored and returned byte for byte.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "Prime.h"
#include "Registry.h"
#include "Voting.h"
#include "cluster_checks.h"
#include "rpc/channel.h"

namespace beacon {
namespace {

using idl::ErrorCode;
using testing::Cluster;

// One row of the table: a call that must be refused.
struct Refusal {
  std::string what;            // the case, for the failure message
  std::function<void()> call;  // throws the service's typed error
  ErrorCode::type code;
  std::string names;  // the message must contain this
};

// Runs every row; E is the service's IDL exception.
template <class E>
void ExpectRefusals(const std::vector<Refusal>& rows) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    try {
      row.call();
      ADD_FAILURE() << "accepted";
    } catch (const E& e) {
      EXPECT_EQ(e.code, row.code) << e.message;
      EXPECT_NE(e.message.find(row.names), std::string::npos)
          << "message does not name '" << row.names << "': " << e.message;
    }
  }
}

idl::Instance MakeInstance(const std::string& id = "r1",
                           const std::string& host = "127.0.0.1", int port = 7001,
                           std::map<std::string, std::string> metadata = {}) {
  idl::Instance i;
  i.id = id;
  i.host = host;
  i.port = port;
  i.metadata = std::move(metadata);
  return i;
}

std::map<std::string, std::string> ManyEntries(int n) {
  std::map<std::string, std::string> m;
  for (int i = 0; i < n; ++i) m["k" + std::to_string(i)] = "v";
  return m;
}

std::vector<std::string> ManyOptions(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("option" + std::to_string(i));
  return v;
}

class InvalidArguments : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.registry().ok());
    ASSERT_TRUE(cluster_.replicas()[0]->ok());
    auto ch = rpc::Channel::Open(Endpoint{"127.0.0.1", cluster_.registry().port()},
                                 rpc::ClientOptions{});
    ASSERT_TRUE(ch.ok());
    registry_channel_ = std::move(ch).value();
    registry_ = std::make_unique<idl::RegistryClient>(registry_channel_->protocol());
    replica_ = cluster_.replicas()[0]->Connect();
    ASSERT_NE(replica_, nullptr);
  }

  Cluster cluster_{1};
  std::unique_ptr<rpc::Channel> registry_channel_;
  std::unique_ptr<idl::RegistryClient> registry_;
  std::unique_ptr<rpc::ReplicaConnection> replica_;
};

TEST_F(InvalidArguments, EveryRegistryMethodNamesTheBadField) {
  idl::Lease lease;
  idl::Membership m;
  auto reg = [&](const std::string& service, const idl::Instance& i,
                 const std::string& lease_id = "") {
    return [=, &lease] { registry_->registerInstance(lease, service, i, lease_id, ""); };
  };
  auto hb = [&](const std::string& service, const std::string& id,
                const std::string& lease_id) {
    return [=, &lease] { registry_->heartbeat(lease, service, id, lease_id, ""); };
  };
  auto dereg = [&](const std::string& service, const std::string& id,
                   const std::string& lease_id) {
    return [=] { registry_->deregister(service, id, lease_id, ""); };
  };
  auto lookup = [&](const std::string& service) {
    return [=, &m] { registry_->lookup(m, service); };
  };
  auto watch = [&](const std::string& service, int max_wait_ms) {
    return [=, &m] { registry_->watch(m, service, 0, max_wait_ms); };
  };
  const std::string long_name(65, 'a');
  const ErrorCode::type kInvalid = ErrorCode::INVALID_ARGUMENT;
  ExpectRefusals<idl::RegistryError>({
      {"register: empty service", reg("", MakeInstance()), kInvalid, "service_name"},
      {"register: 65-char service", reg(long_name, MakeInstance()), kInvalid,
       "service_name"},
      {"register: service with '/'", reg("a/b", MakeInstance()), kInvalid,
       "service_name"},
      {"register: empty id", reg("prime", MakeInstance("")), kInvalid, "instance.id"},
      {"register: id with space", reg("prime", MakeInstance("a b")), kInvalid,
       "instance.id"},
      {"register: 65-char id", reg("prime", MakeInstance(long_name)), kInvalid,
       "instance.id"},
      {"register: empty host", reg("prime", MakeInstance("r1", "")), kInvalid,
       "instance.host"},
      {"register: host with space", reg("prime", MakeInstance("r1", "a b")), kInvalid,
       "instance.host"},
      {"register: host with newline", reg("prime", MakeInstance("r1", "a\nb")), kInvalid,
       "instance.host"},
      {"register: 254-byte host", reg("prime", MakeInstance("r1", std::string(254, 'h'))),
       kInvalid, "instance.host"},
      {"register: port 0", reg("prime", MakeInstance("r1", "127.0.0.1", 0)), kInvalid,
       "instance.port"},
      {"register: port -1", reg("prime", MakeInstance("r1", "127.0.0.1", -1)), kInvalid,
       "instance.port"},
      {"register: port 65536", reg("prime", MakeInstance("r1", "127.0.0.1", 65536)),
       kInvalid, "instance.port"},
      {"register: 33 metadata entries",
       reg("prime", MakeInstance("r1", "127.0.0.1", 7001, ManyEntries(33))), kInvalid,
       "instance.metadata"},
      {"register: metadata key with space",
       reg("prime", MakeInstance("r1", "127.0.0.1", 7001, {{"a b", "v"}})), kInvalid,
       "instance.metadata key"},
      {"register: empty metadata key",
       reg("prime", MakeInstance("r1", "127.0.0.1", 7001, {{"", "v"}})), kInvalid,
       "instance.metadata key"},
      {"register: 257-byte metadata value",
       reg("prime",
           MakeInstance("r1", "127.0.0.1", 7001, {{"k", std::string(257, 'v')}})),
       kInvalid, "instance.metadata value"},
      {"register: metadata value with a control character",
       reg("prime", MakeInstance("r1", "127.0.0.1", 7001, {{"k", "a\x01"}})), kInvalid,
       "instance.metadata value"},
      {"register: metadata value not UTF-8",
       reg("prime", MakeInstance("r1", "127.0.0.1", 7001, {{"k", "\xff\xfe"}})), kInvalid,
       "instance.metadata value"},
      {"register: 65-char lease id", reg("prime", MakeInstance(), long_name), kInvalid,
       "lease_id"},
      {"heartbeat: empty service", hb("", "r1", "x"), kInvalid, "service_name"},
      {"heartbeat: bad id", hb("prime", "a b", "x"), kInvalid, "instance_id"},
      {"heartbeat: 65-char lease id", hb("prime", "r1", long_name), kInvalid, "lease_id"},
      {"heartbeat: unknown instance", hb("prime", "nobody", "x"),
       ErrorCode::UNKNOWN_INSTANCE, "nobody"},
      {"deregister: bad service", dereg("a b", "r1", "x"), kInvalid, "service_name"},
      {"deregister: empty id", dereg("prime", "", "x"), kInvalid, "instance_id"},
      {"deregister: 65-char lease id", dereg("prime", "r1", long_name), kInvalid,
       "lease_id"},
      {"lookup: empty service", lookup(""), kInvalid, "service_name"},
      {"lookup: 65-char service", lookup(long_name), kInvalid, "service_name"},
      {"lookup: service with a quote", lookup("x'--"), kInvalid, "service_name"},
      {"watch: bad service", watch("a b", 100), kInvalid, "service_name"},
      {"watch: max_wait_ms 0", watch("prime", 0), kInvalid, "max_wait_ms"},
      {"watch: max_wait_ms -1", watch("prime", -1), kInvalid, "max_wait_ms"},
      {"watch: max_wait_ms 60001", watch("prime", 60001), kInvalid, "max_wait_ms"},
  });
  // Nothing was registered by all that (only the cluster's own replica is
  // listed), and the registry still answers.
  registry_->ping();
  registry_->lookup(m, "prime");
  ASSERT_EQ(m.instances.size(), 1u);
  EXPECT_EQ(m.instances[0].id, cluster_.replicas()[0]->id());
}

TEST_F(InvalidArguments, EveryPrimeMethodNamesTheBadField) {
  idl::CountReply count;
  ExpectRefusals<idl::PrimeError>({
      {"countPrimes: lo > hi", [&] { replica_->prime().countPrimes(count, 10, 5); },
       ErrorCode::INVALID_ARGUMENT, "lo must be <= hi"},
      {"countPrimes: range over 10,000,000",
       [&] { replica_->prime().countPrimes(count, 0, 10'000'000); },
       ErrorCode::INVALID_ARGUMENT, "hi - lo"},
      {"countPrimes: unsigned lo > hi (hi is -1 = 2^64-1, lo is -2)",
       [&] { replica_->prime().countPrimes(count, -1, -2); }, ErrorCode::INVALID_ARGUMENT,
       "lo must be <= hi"},
  });
  // The boundary itself is accepted.
  replica_->prime().countPrimes(count, 0, 9'999'999);
  EXPECT_EQ(count.count, 664579);
}

TEST_F(InvalidArguments, EveryVotingMethodNamesTheBadFieldOrTheUnknownId) {
  idl::CreatePollReply created;
  replica_->voting().createPoll(created, "Colour?", {"red", "green"}, "");
  const int64_t poll = created.poll.poll_id;
  idl::CreatePollReply closed_poll;
  replica_->voting().createPoll(closed_poll, "Closed?", {"yes", "no"}, "");
  idl::ClosePollReply closed;
  replica_->voting().closePoll(closed, closed_poll.poll.poll_id);
  idl::VoteReceipt receipt;
  replica_->voting().castVote(receipt, poll, "carol", "red");

  idl::Poll p;
  idl::PollResults results;
  idl::PollList list;
  auto create = [&](const std::string& q, const std::vector<std::string>& options,
                    const std::string& request_id = "") {
    return
        [=, &created] { replica_->voting().createPoll(created, q, options, request_id); };
  };
  auto vote = [&](int64_t poll_id, const std::string& voter, const std::string& option) {
    return
        [=, &receipt] { replica_->voting().castVote(receipt, poll_id, voter, option); };
  };
  const ErrorCode::type kInvalid = ErrorCode::INVALID_ARGUMENT;
  const std::vector<std::string> two = {"a", "b"};
  ExpectRefusals<idl::VotingError>({
      {"createPoll: empty question", create("", two), kInvalid, "question"},
      {"createPoll: 501-byte question", create(std::string(501, 'q'), two), kInvalid,
       "question"},
      {"createPoll: question with a control character", create("a\x07?", two), kInvalid,
       "question"},
      {"createPoll: question not UTF-8", create("caf\xe9?", two), kInvalid, "question"},
      {"createPoll: question with an overlong UTF-8 '/'", create("a\xc0\xaf", two),
       kInvalid, "question"},
      {"createPoll: no options", create("q?", {}), kInvalid, "options"},
      {"createPoll: one option", create("q?", {"a"}), kInvalid, "options"},
      {"createPoll: 33 options", create("q?", ManyOptions(33)), kInvalid, "options"},
      {"createPoll: empty option", create("q?", {"a", ""}), kInvalid, "options[1]"},
      {"createPoll: 101-byte option", create("q?", {std::string(101, 'o'), "b"}),
       kInvalid, "options[0]"},
      {"createPoll: duplicate option", create("q?", {"a", "b", "a"}), kInvalid,
       "options[2]"},
      {"createPoll: option with a newline", create("q?", {"a\nb", "c"}), kInvalid,
       "options[0]"},
      {"createPoll: option not UTF-8", create("q?", {"a", "\x80"}), kInvalid,
       "options[1]"},
      {"createPoll: request id with space", create("q?", two, "a b"), kInvalid,
       "request_id"},
      {"createPoll: 65-char request id", create("q?", two, std::string(65, 'r')),
       kInvalid, "request_id"},
      {"castVote: poll 0", vote(0, "alice", "red"), kInvalid, "poll_id"},
      {"castVote: poll -5", vote(-5, "alice", "red"), kInvalid, "poll_id"},
      {"castVote: unknown poll", vote(987654321, "alice", "red"), ErrorCode::NOT_FOUND,
       "987654321"},
      {"castVote: empty voter", vote(poll, "", "red"), kInvalid, "voter_id"},
      {"castVote: 65-byte voter", vote(poll, std::string(65, 'v'), "red"), kInvalid,
       "voter_id"},
      {"castVote: voter with a tab", vote(poll, "al\tice", "red"), kInvalid, "voter_id"},
      {"castVote: voter not UTF-8", vote(poll, "\xc3", "red"), kInvalid, "voter_id"},
      {"castVote: empty option", vote(poll, "alice", ""), kInvalid, "option"},
      {"castVote: 101-byte option", vote(poll, "alice", std::string(101, 'o')), kInvalid,
       "option"},
      {"castVote: option not in the poll", vote(poll, "alice", "purple"), kInvalid,
       "purple"},
      {"castVote: closed poll", vote(closed_poll.poll.poll_id, "alice", "yes"),
       ErrorCode::CONFLICT, "closed"},
      {"castVote: voter chose another option", vote(poll, "carol", "green"),
       ErrorCode::ALREADY_VOTED, "carol"},
      {"results: poll 0", [&] { replica_->voting().results(results, 0); }, kInvalid,
       "poll_id"},
      {"results: unknown poll", [&] { replica_->voting().results(results, 987654321); },
       ErrorCode::NOT_FOUND, "987654321"},
      {"listPolls: limit -1", [&] { replica_->voting().listPolls(list, -1); }, kInvalid,
       "limit"},
      {"listPolls: limit 1001", [&] { replica_->voting().listPolls(list, 1001); },
       kInvalid, "limit"},
      {"closePoll: poll -1", [&] { replica_->voting().closePoll(closed, -1); }, kInvalid,
       "poll_id"},
      {"closePoll: unknown poll",
       [&] { replica_->voting().closePoll(closed, 987654321); }, ErrorCode::NOT_FOUND,
       "987654321"},
  });
  // None of it changed anything: one poll open with carol's vote, and the
  // boundaries are accepted.
  replica_->voting().results(results, poll);
  EXPECT_EQ(results.total, 1);
  replica_->voting().listPolls(list, 1000);
  EXPECT_EQ(list.polls.size(), 2u);
  replica_->voting().createPoll(created, std::string(500, 'q'), ManyOptions(32),
                                std::string(64, 'r'));
  replica_->voting().castVote(receipt, created.poll.poll_id, std::string(64, 'v'),
                              "option31");
  EXPECT_EQ(receipt.option, "option31");
}

// SQL metacharacters, quotes, wildcards, backslashes, multi-byte and 4-byte
// UTF-8 in questions, options and voter ids travel through two replicas and
// the database unchanged.
TEST(VerbatimText, SqlMetacharactersAndNonAsciiAreStoredAndReturnedUnchanged) {
  Cluster cluster(2);
  for (auto& r : cluster.replicas()) ASSERT_TRUE(r->ok());
  auto writer = cluster.replicas()[0]->Connect();
  auto reader = cluster.replicas()[1]->Connect();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);

  const std::string question =
      "Robert'); DROP TABLE votes; -- ¿Qué opinas? 日本語 \"quoted\" 100% _x_ \\ "
      "🗳️";
  const std::vector<std::string> options = {
      "' OR '1'='1", "Ünïcödé ✓",          "%", "_", "\\", "🙂🙃", "NULL",
      "a\"b;--",     "; DELETE FROM polls"};
  const std::vector<std::string> voters = {
      "x'; DELETE FROM votes; --", "Zoë 🐙",      "%%", "_", "\\'", "NULL",
      "👩‍👩‍👧‍👦", "ﬁ ligature", " "};
  idl::CreatePollReply created;
  writer->voting().createPoll(created, question, options, "");
  EXPECT_EQ(created.poll.question, question);
  EXPECT_EQ(created.poll.options, options);
  for (size_t i = 0; i < voters.size(); ++i) {
    idl::VoteReceipt receipt;
    writer->voting().castVote(receipt, created.poll.poll_id, voters[i], options[i]);
    EXPECT_EQ(receipt.voter_id, voters[i]);
    EXPECT_EQ(receipt.option, options[i]);
    // The identical repeat through the other replica finds the same vote.
    idl::VoteReceipt repeat;
    reader->voting().castVote(repeat, created.poll.poll_id, voters[i], options[i]);
    EXPECT_TRUE(repeat.repeated) << voters[i];
    EXPECT_EQ(repeat.vote_id, receipt.vote_id);
  }

  idl::PollResults results;
  reader->voting().results(results, created.poll.poll_id);
  EXPECT_EQ(results.poll.question, question);
  EXPECT_EQ(results.poll.options, options);
  ASSERT_EQ(results.counts.size(), options.size());
  for (size_t i = 0; i < options.size(); ++i) {
    EXPECT_EQ(results.counts[i].option, options[i]);
    EXPECT_EQ(results.counts[i].votes, 1) << options[i];
  }
  EXPECT_EQ(results.total, static_cast<int64_t>(voters.size()));
  idl::PollList list;
  reader->voting().listPolls(list, 0);
  ASSERT_FALSE(list.polls.empty());
  EXPECT_EQ(list.polls[0].question, question);
  EXPECT_EQ(list.polls[0].options, options);

  // Byte limits count bytes, not characters: 125 four-byte characters fit a
  // 500-byte question exactly; one byte more is refused.
  std::string emoji_question;
  for (int i = 0; i < 125; ++i) emoji_question += "🗳";
  ASSERT_EQ(emoji_question.size(), 500u);
  writer->voting().createPoll(created, emoji_question, {"ä", "ö"}, "");
  EXPECT_EQ(created.poll.question, emoji_question);
  try {
    writer->voting().createPoll(created, emoji_question + "?", {"ä", "ö"}, "");
    ADD_FAILURE() << "a 501-byte question was accepted";
  } catch (const idl::VotingError& e) {
    EXPECT_EQ(e.code, ErrorCode::INVALID_ARGUMENT);
    EXPECT_NE(e.message.find("question"), std::string::npos) << e.message;
  }
}

}  // namespace
}  // namespace beacon
