// A session's registry client over several registries: one at a time, the
// next on a transport failure (the call still succeeds), versions of its own
// so lists from different registries are never confused.
#include "discovery/registry_failover_client.h"

#include <gtest/gtest.h>

#include <future>

#include "fake_registry_client.h"
#include "unit/poll_until.h"

namespace beacon::discovery {
namespace {

using ::beacon::testing::PollUntil;
using testing::FakeRegistryClient;
using testing::Server;

class RegistryFailoverClientTest : public ::testing::Test {
 protected:
  RegistryFailoverClientTest() {
    a_->SetMembership("prime", 5, {Server("p1", 7001)});
    b_->SetMembership("prime", 5, {Server("p2", 7002)});
  }

  std::unique_ptr<RegistryFailoverClient> Make(size_t start = 0) {
    auto client = RegistryFailoverClient::Create({a_, b_}, start);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return std::move(client).value();
  }

  std::shared_ptr<FakeRegistryClient> a_ =
      std::make_shared<FakeRegistryClient>("127.0.0.1:1");
  std::shared_ptr<FakeRegistryClient> b_ =
      std::make_shared<FakeRegistryClient>("127.0.0.1:2");
};

TEST_F(RegistryFailoverClientTest, CreateRejectsEmptyNullAndOutOfRangeStart) {
  EXPECT_EQ(RegistryFailoverClient::Create({}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RegistryFailoverClient::Create({a_, nullptr}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RegistryFailoverClient::Create({a_, b_}, 2).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(RegistryFailoverClientTest, UsesOnlyTheStartRegistryWhileItAnswers) {
  auto client = Make(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Lookup("prime").ok());
  EXPECT_EQ(a_->Lookups("prime"), 0);
  EXPECT_EQ(b_->Lookups("prime"), 3);
  EXPECT_EQ(client->SourceOf("prime"), "127.0.0.1:2");
  EXPECT_EQ(client->CurrentAddress(), "127.0.0.1:2");
}

TEST_F(RegistryFailoverClientTest, UnreachableRegistryMovesOnWithoutFailingTheLookup) {
  a_->SetReachable(false);
  auto client = Make(0);
  auto m = client->Lookup("prime");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->instances.at(0).id, "p2");
  EXPECT_EQ(client->SourceOf("prime"), "127.0.0.1:2");
  EXPECT_EQ(client->switches(), 1);
  // And stays there: the dead registry is not asked again.
  ASSERT_TRUE(client->Lookup("prime").ok());
  EXPECT_EQ(a_->Lookups("prime"), 1);
  EXPECT_EQ(b_->Lookups("prime"), 2);
}

TEST_F(RegistryFailoverClientTest, WrapsAroundToTheFirstRegistry) {
  b_->SetReachable(false);
  auto client = Make(1);
  ASSERT_TRUE(client->Lookup("prime").ok());
  EXPECT_EQ(client->CurrentAddress(), "127.0.0.1:1");
}

TEST_F(RegistryFailoverClientTest, AnswerThatIsNotATransportErrorIsReturnedAsIs) {
  a_->SetLookupError(InvalidArgument("service name bad"));
  auto client = Make(0);
  auto m = client->Lookup("prime");
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b_->Lookups("prime"), 0);
  EXPECT_EQ(client->switches(), 0);
}

TEST_F(RegistryFailoverClientTest, EveryRegistryUnreachableGivesEachOnesError) {
  a_->SetReachable(false);
  b_->SetReachable(false);
  auto client = Make(0);
  auto m = client->Lookup("prime");
  ASSERT_EQ(m.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(m.status().message(), std::string(FakeRegistryClient::kDownMessage) + "; " +
                                      FakeRegistryClient::kDownMessage);
  EXPECT_EQ(client->Address(), "127.0.0.1:1,127.0.0.1:2");
}

TEST_F(RegistryFailoverClientTest, SingleRegistryKeepsItsErrorAndAddress) {
  a_->SetReachable(false);
  auto client = RegistryFailoverClient::Create({a_}, 0).value();
  auto m = client->Lookup("prime");
  ASSERT_EQ(m.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(m.status().message(), FakeRegistryClient::kDownMessage);
  EXPECT_EQ(client->Address(), "127.0.0.1:1");
}

TEST_F(RegistryFailoverClientTest, VersionChangesWhenTheAnsweringRegistryChanges) {
  auto client = Make(0);
  auto first = client->Lookup("prime");
  ASSERT_TRUE(first.ok());
  // Both registries are at version 5, with different lists: a cache
  // comparing raw versions would keep p1 forever.
  a_->SetReachable(false);
  auto second = client->Lookup("prime");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->version, first->version);
  EXPECT_EQ(second->instances.at(0).id, "p2");
  // The same registry at the same version: the same version.
  auto third = client->Lookup("prime");
  EXPECT_EQ(third->version, second->version);
}

TEST_F(RegistryFailoverClientTest, WatchPassesTheRegistrysOwnVersion) {
  auto client = Make(0);
  auto listed = client->Lookup("prime");
  ASSERT_TRUE(listed.ok());
  auto watched = std::async(
      std::launch::async, [&] { return client->Watch("prime", listed->version, 10000); });
  ASSERT_TRUE(PollUntil([&] { return a_->WatchesInProgress() == 1; }));
  a_->SetInstances("prime", {Server("p1", 7001), Server("p3", 7003)});
  auto m = watched.get();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->instances.size(), 2u);
  EXPECT_NE(m->version, listed->version);
}

TEST_F(RegistryFailoverClientTest, WatchAfterASwitchAsksTheNewRegistryAtOnce) {
  auto client = Make(0);
  auto listed = client->Lookup("prime");
  ASSERT_TRUE(listed.ok());
  a_->SetReachable(false);
  auto m = client->Watch("prime", listed->version, 10000);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->instances.at(0).id, "p2");
  EXPECT_EQ(b_->Lookups("prime"), 1);
  EXPECT_EQ(b_->Watches("prime"), 0);
}

TEST_F(RegistryFailoverClientTest, LookupThatMovesOffARegistryMovesItsWatchersToo) {
  auto client = Make(0);
  auto listed = client->Lookup("prime");
  ASSERT_TRUE(listed.ok());
  auto watched = std::async(
      std::launch::async, [&] { return client->Watch("prime", listed->version, 10000); });
  ASSERT_TRUE(PollUntil([&] { return a_->WatchesInProgress() == 1; }));
  // A hung registry: its lookups time out while the watch just sits there.
  a_->SetLookupError(Unavailable("timed out"));
  ASSERT_TRUE(client->Lookup("prime").ok());
  auto m = watched.get();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->instances.at(0).id, "p2");
  EXPECT_EQ(client->SourceOf("prime"), "127.0.0.1:2");
}

TEST_F(RegistryFailoverClientTest, CancelWatchesReturnsWithoutMovingOn) {
  auto client = Make(0);
  auto listed = client->Lookup("prime");
  ASSERT_TRUE(listed.ok());
  auto watched = std::async(
      std::launch::async, [&] { return client->Watch("prime", listed->version, 10000); });
  ASSERT_TRUE(PollUntil([&] { return a_->WatchesInProgress() == 1; }));
  client->CancelWatches();
  EXPECT_EQ(watched.get().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(client->switches(), 0);
  EXPECT_EQ(b_->Lookups("prime") + b_->Watches("prime"), 0);
}

}  // namespace
}  // namespace beacon::discovery
