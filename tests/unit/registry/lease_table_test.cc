#include "registry/lease_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "unit/poll_until.h"

namespace beacon::registry {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int64_t kTtlMs = 3000;
constexpr int64_t kInitialVersion = 1'000'000;

InstanceInfo Instance(const std::string& id, const std::string& host = "10.0.0.1",
                      int port = 9000, std::map<std::string, std::string> metadata = {}) {
  return InstanceInfo{id, host, port, std::move(metadata)};
}

LeaseTableOptions DefaultOptions() {
  LeaseTableOptions options;
  options.ttl_ms = kTtlMs;
  return options;
}

using ::beacon::testing::PollUntil;

std::vector<std::string> Ids(const Membership& m) {
  std::vector<std::string> ids;
  for (const auto& i : m.instances) ids.push_back(i.id);
  return ids;
}

class LeaseTableTest : public ::testing::Test {
 protected:
  explicit LeaseTableTest(LeaseTableOptions options = DefaultOptions())
      : table_(clock_, std::move(options), kInitialVersion) {}

  Lease MustRegister(const std::string& service, const InstanceInfo& instance,
                     const std::string& lease_id = "") {
    Result<Lease> lease = table_.Register(service, instance, lease_id, "");
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    return lease.ok() ? lease.value() : Lease{};
  }
  Membership MustLookup(const std::string& service) {
    Result<Membership> m = table_.Lookup(service);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? m.value() : Membership{};
  }
  int64_t VersionOf(const std::string& service) { return MustLookup(service).version; }

  FakeClock clock_;
  LeaseTable table_;
};

// A Watch running on its own thread. The destructor shuts the table down if
// the watch is still waiting, so a failing test never hangs.
class BackgroundWatch {
 public:
  BackgroundWatch(LeaseTable* table, std::string service, int64_t known_version,
                  int max_wait_ms)
      : table_(table) {
    thread_ = std::thread([this, service, known_version, max_wait_ms] {
      result_.emplace(table_->Watch(service, known_version, max_wait_ms));
      done_ = true;
    });
  }
  ~BackgroundWatch() {
    if (!done_) table_->Shutdown();
    thread_.join();
  }
  bool WaitDone(milliseconds limit = milliseconds(10000)) {
    return PollUntil([this] { return done_.load(); }, limit);
  }
  bool done() const { return done_; }
  // Valid once done() is true.
  const Result<Membership>& result() const { return *result_; }

 private:
  LeaseTable* table_;
  std::optional<Result<Membership>> result_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------- Register

TEST_F(LeaseTableTest, NeverSeenServiceHasVersionZeroAndNoInstances) {
  Membership m = MustLookup("prime");
  EXPECT_EQ(m.service_name, "prime");
  EXPECT_EQ(m.version, 0);
  EXPECT_TRUE(m.instances.empty());
}

TEST_F(LeaseTableTest, RegisterGrantsRandomHexLeaseOfConfiguredTtl) {
  Lease lease = MustRegister("prime", Instance("r1"));
  EXPECT_EQ(lease.ttl_ms, kTtlMs);
  ASSERT_EQ(lease.lease_id.size(), 32u);
  EXPECT_EQ(lease.lease_id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(LeaseTableTest, EveryNewRegistrationGetsADistinctLeaseId) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    seen.insert(
        MustRegister("prime", Instance("r" + std::to_string(i), "h", 1000 + i)).lease_id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST_F(LeaseTableTest, RegisteredInstanceIsReturnedByLookup) {
  InstanceInfo r1 = Instance("r1", "10.0.0.7", 9100, {{"zone", "a"}});
  MustRegister("prime", r1);
  Membership m = MustLookup("prime");
  ASSERT_EQ(m.instances.size(), 1u);
  EXPECT_EQ(m.instances[0], r1);
  EXPECT_TRUE(MustLookup("voting").instances.empty());
}

TEST_F(LeaseTableTest, LookupSortsInstancesById) {
  MustRegister("prime", Instance("c", "h", 3));
  MustRegister("prime", Instance("a", "h", 1));
  MustRegister("prime", Instance("b", "h", 2));
  EXPECT_EQ(Ids(MustLookup("prime")), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(LeaseTableTest, SameIdInTwoServicesIsTwoInstances) {
  MustRegister("prime", Instance("r1", "h", 1));
  MustRegister("voting", Instance("r1", "other", 2));
  EXPECT_EQ(MustLookup("prime").instances.at(0).host, "h");
  EXPECT_EQ(MustLookup("voting").instances.at(0).host, "other");
}

TEST_F(LeaseTableTest, RegisterWithCurrentLeaseIsIdempotent) {
  Lease first = MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  Lease again = MustRegister("prime", Instance("r1"), first.lease_id);
  EXPECT_EQ(again.lease_id, first.lease_id);
  EXPECT_EQ(VersionOf("prime"), version);
}

TEST_F(LeaseTableTest, RegisterFromSameAddressWithoutLeaseReturnsTheHeldLease) {
  // A replica restarted on the same address has lost its lease id.
  Lease first = MustRegister("prime", Instance("r1", "10.0.0.1", 9000));
  const int64_t version = VersionOf("prime");
  Lease again = MustRegister("prime", Instance("r1", "10.0.0.1", 9000));
  EXPECT_EQ(again.lease_id, first.lease_id);
  EXPECT_EQ(VersionOf("prime"), version);
}

TEST_F(LeaseTableTest, RegisterWithCurrentLeaseFromNewAddressMovesTheInstance) {
  Lease first = MustRegister("prime", Instance("r1", "10.0.0.1", 9000));
  const int64_t version = VersionOf("prime");
  Lease again = MustRegister("prime", Instance("r1", "10.0.0.2", 9001), first.lease_id);
  EXPECT_EQ(again.lease_id, first.lease_id);
  Membership m = MustLookup("prime");
  EXPECT_GT(m.version, version);
  EXPECT_EQ(m.instances.at(0).host, "10.0.0.2");
  EXPECT_EQ(m.instances.at(0).port, 9001);
}

TEST_F(LeaseTableTest, RegisterWithChangedMetadataChangesVersion) {
  Lease first = MustRegister("prime", Instance("r1", "h", 1, {{"zone", "a"}}));
  const int64_t version = VersionOf("prime");
  MustRegister("prime", Instance("r1", "h", 1, {{"zone", "b"}}), first.lease_id);
  Membership m = MustLookup("prime");
  EXPECT_GT(m.version, version);
  EXPECT_EQ(m.instances.at(0).metadata.at("zone"), "b");
}

TEST_F(LeaseTableTest, RepeatedRegisterRefreshesTheLease) {
  Lease first = MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(2000);
  MustRegister("prime", Instance("r1"), first.lease_id);  // live until t+5000
  clock_.AdvanceMillis(2999);                             // t+4999
  EXPECT_EQ(MustLookup("prime").instances.size(), 1u);
  clock_.AdvanceMillis(1);  // t+5000
  EXPECT_TRUE(MustLookup("prime").instances.empty());
}

TEST_F(LeaseTableTest, RegisterOfIdHeldFromAnotherAddressIsAlreadyExists) {
  MustRegister("prime", Instance("r1", "10.0.0.1", 9000));
  const int64_t version = VersionOf("prime");
  clock_.AdvanceMillis(1000);
  Result<Lease> r = table_.Register("prime", Instance("r1", "10.0.0.2", 9000), "", "");
  ASSERT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(r.status().message().find("\"r1\""), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("\"prime\""), std::string::npos);
  EXPECT_NE(r.status().message().find("(10.0.0.1:9000)"), std::string::npos);
  EXPECT_NE(r.status().message().find("expires in 2000 ms"), std::string::npos);
  EXPECT_EQ(MustLookup("prime").instances.at(0).host, "10.0.0.1");
  EXPECT_EQ(VersionOf("prime"), version);
}

TEST_F(LeaseTableTest, RegisterWithSomeoneElsesLeaseFromAnotherAddressIsAlreadyExists) {
  MustRegister("prime", Instance("r1", "10.0.0.1", 9000));
  Result<Lease> r = table_.Register("prime", Instance("r1", "10.0.0.2", 9000),
                                    std::string(32, 'a'), "");
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(LeaseTableTest, RegisterAfterExpiryGrantsAFreshLease) {
  Lease first = MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(kTtlMs);
  Lease second = MustRegister("prime", Instance("r1"), first.lease_id);
  EXPECT_NE(second.lease_id, first.lease_id);
  EXPECT_EQ(table_.Heartbeat("prime", "r1", first.lease_id, "").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(table_.Heartbeat("prime", "r1", second.lease_id, "").ok());
}

TEST_F(LeaseTableTest, ExpiredIdCanBeTakenFromAnotherAddress) {
  MustRegister("prime", Instance("r1", "10.0.0.1", 9000));
  clock_.AdvanceMillis(kTtlMs);
  MustRegister("prime", Instance("r1", "10.0.0.2", 9000));
  EXPECT_EQ(MustLookup("prime").instances.at(0).host, "10.0.0.2");
}

// ---------------------------------------------------------------- Validation

void ExpectInvalid(const Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(field), std::string::npos)
      << "message should name " << field << ": " << s.message();
}

TEST_F(LeaseTableTest, RegisterRejectsBadServiceName) {
  ExpectInvalid(table_.Register("", Instance("r1"), "", "").status(), "service_name");
  ExpectInvalid(table_.Register("a b", Instance("r1"), "", "").status(), "service_name");
  ExpectInvalid(table_.Register(std::string(65, 's'), Instance("r1"), "", "").status(),
                "service_name");
  EXPECT_TRUE(table_.Register(std::string(64, 's'), Instance("r1"), "", "").ok());
}

TEST_F(LeaseTableTest, RegisterRejectsBadInstanceId) {
  ExpectInvalid(table_.Register("prime", Instance(""), "", "").status(), "instance.id");
  ExpectInvalid(table_.Register("prime", Instance("r/1"), "", "").status(),
                "instance.id");
}

TEST_F(LeaseTableTest, RegisterRejectsBadHost) {
  ExpectInvalid(table_.Register("prime", Instance("r1", ""), "", "").status(),
                "instance.host");
  ExpectInvalid(table_.Register("prime", Instance("r1", "a host"), "", "").status(),
                "instance.host");
  ExpectInvalid(
      table_.Register("prime", Instance("r1", std::string(254, 'h')), "", "").status(),
      "instance.host");
}

TEST_F(LeaseTableTest, RegisterRejectsPortOutsideOneTo65535) {
  ExpectInvalid(table_.Register("prime", Instance("r1", "h", 0), "", "").status(),
                "instance.port");
  ExpectInvalid(table_.Register("prime", Instance("r1", "h", 65536), "", "").status(),
                "instance.port");
  ExpectInvalid(table_.Register("prime", Instance("r1", "h", -1), "", "").status(),
                "instance.port");
  EXPECT_TRUE(table_.Register("prime", Instance("r1", "h", 1), "", "").ok());
  EXPECT_TRUE(table_.Register("prime", Instance("r2", "h", 65535), "", "").ok());
}

TEST_F(LeaseTableTest, RegisterAcceptsAtMost32MetadataEntries) {
  std::map<std::string, std::string> metadata;
  for (int i = 0; i < 32; ++i) metadata["k" + std::to_string(i)] = "v";
  EXPECT_TRUE(table_.Register("prime", Instance("r1", "h", 1, metadata), "", "").ok());
  metadata["k32"] = "v";
  ExpectInvalid(
      table_.Register("prime", Instance("r2", "h", 2, metadata), "", "").status(),
      "instance.metadata");
}

TEST_F(LeaseTableTest, RegisterRejectsBadMetadataKey) {
  ExpectInvalid(
      table_.Register("prime", Instance("r1", "h", 1, {{"", "v"}}), "", "").status(),
      "instance.metadata key");
  ExpectInvalid(
      table_.Register("prime", Instance("r1", "h", 1, {{"bad key", "v"}}), "", "")
          .status(),
      "instance.metadata key");
}

TEST_F(LeaseTableTest, RegisterAcceptsMetadataValuesOfZeroTo256Bytes) {
  EXPECT_TRUE(table_.Register("prime", Instance("r1", "h", 1, {{"k", ""}}), "", "").ok());
  EXPECT_TRUE(table_
                  .Register("prime",
                            Instance("r2", "h", 2, {{"k", std::string(256, 'v')}}), "",
                            "")
                  .ok());
  ExpectInvalid(
      table_
          .Register("prime", Instance("r3", "h", 3, {{"k", std::string(257, 'v')}}), "",
                    "")
          .status(),
      "instance.metadata value");
  ExpectInvalid(
      table_.Register("prime", Instance("r3", "h", 3, {{"k", "line\nbreak"}}), "", "")
          .status(),
      "instance.metadata value");
  ExpectInvalid(
      table_.Register("prime", Instance("r3", "h", 3, {{"k", "\xC3"}}), "", "").status(),
      "instance.metadata value");
}

TEST_F(LeaseTableTest, LeaseIdsLongerThan64CharactersAreRejected) {
  const std::string too_long(65, 'a');
  ExpectInvalid(table_.Register("prime", Instance("r1"), too_long, "").status(),
                "lease_id");
  ExpectInvalid(table_.Heartbeat("prime", "r1", too_long, "").status(), "lease_id");
  ExpectInvalid(table_.Deregister("prime", "r1", too_long, ""), "lease_id");
  EXPECT_TRUE(table_.Register("prime", Instance("r1"), std::string(64, 'a'), "").ok());
}

TEST_F(LeaseTableTest, HeartbeatAndDeregisterValidateNames) {
  ExpectInvalid(table_.Heartbeat("", "r1", "x", "").status(), "service_name");
  ExpectInvalid(table_.Heartbeat("prime", "r 1", "x", "").status(), "instance_id");
  ExpectInvalid(table_.Deregister("pr/me", "r1", "x", ""), "service_name");
  ExpectInvalid(table_.Deregister("prime", "", "x", ""), "instance_id");
}

TEST_F(LeaseTableTest, LookupAndWatchValidateServiceName) {
  ExpectInvalid(table_.Lookup("").status(), "service_name");
  ExpectInvalid(table_.Watch("a\nb", 0, 10).status(), "service_name");
}

TEST_F(LeaseTableTest, WatchAcceptsMaxWaitOfOneToConfiguredMaximum) {
  ExpectInvalid(table_.Watch("prime", 0, 0).status(), "max_wait_ms");
  ExpectInvalid(table_.Watch("prime", 0, -5).status(), "max_wait_ms");
  ExpectInvalid(table_.Watch("prime", 0, 60001).status(), "max_wait_ms");
  // A differing known_version returns at once, so the bounds do not wait.
  EXPECT_TRUE(table_.Watch("prime", 42, 1).ok());
  EXPECT_TRUE(table_.Watch("prime", 42, 60000).ok());
}

TEST_F(LeaseTableTest, RejectedRegistrationChangesNothing) {
  EXPECT_FALSE(table_.Register("prime", Instance("r1", "h", 0), "", "").ok());
  EXPECT_EQ(VersionOf("prime"), 0);
  EXPECT_TRUE(table_.ListServices().empty());
}

// ---------------------------------------------------------------- Token

class TokenTest : public LeaseTableTest {
 protected:
  static LeaseTableOptions WithToken() {
    LeaseTableOptions options = DefaultOptions();
    options.token = "s3cret";
    return options;
  }
  TokenTest() : LeaseTableTest(WithToken()) {}
};

TEST_F(TokenTest, RegisterWithoutTheTokenIsPermissionDenied) {
  for (const std::string token : {"", "s3cre", "s3cret!", "S3CRET", "x"}) {
    EXPECT_EQ(table_.Register("prime", Instance("r1"), "", token).status().code(),
              StatusCode::kPermissionDenied)
        << token;
  }
  EXPECT_EQ(VersionOf("prime"), 0);
}

TEST_F(TokenTest, WrongTokenIsCheckedBeforeValidation) {
  EXPECT_EQ(table_.Register("", Instance(""), "", "nope").status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(TokenTest, HeartbeatAndDeregisterNeedTheToken) {
  Result<Lease> lease = table_.Register("prime", Instance("r1"), "", "s3cret");
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(table_.Heartbeat("prime", "r1", lease->lease_id, "bad").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(table_.Deregister("prime", "r1", lease->lease_id, "").code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(MustLookup("prime").instances.size(), 1u);
  EXPECT_TRUE(table_.Heartbeat("prime", "r1", lease->lease_id, "s3cret").ok());
  EXPECT_TRUE(table_.Deregister("prime", "r1", lease->lease_id, "s3cret").ok());
  EXPECT_TRUE(MustLookup("prime").instances.empty());
}

TEST_F(TokenTest, ReadsAreOpenWithoutToken) {
  ASSERT_TRUE(table_.Register("prime", Instance("r1"), "", "s3cret").ok());
  EXPECT_EQ(MustLookup("prime").instances.size(), 1u);
  EXPECT_EQ(table_.ListServices().size(), 1u);
  EXPECT_TRUE(table_.Watch("prime", 0, 1).ok());
}

TEST_F(LeaseTableTest, WithoutConfiguredTokenAnyTokenIsAccepted) {
  EXPECT_TRUE(table_.Register("prime", Instance("r1"), "", "anything").ok());
}

// ---------------------------------------------------------------- Heartbeat

TEST_F(LeaseTableTest, HeartbeatRenewsTheLeaseToNowPlusTtl) {
  Lease lease = MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(2000);
  Result<Lease> renewed = table_.Heartbeat("prime", "r1", lease.lease_id, "");
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(renewed->lease_id, lease.lease_id);
  EXPECT_EQ(renewed->ttl_ms, kTtlMs);
  clock_.AdvanceMillis(2999);  // t+4999
  EXPECT_EQ(MustLookup("prime").instances.size(), 1u);
  clock_.AdvanceMillis(1);  // t+5000
  EXPECT_TRUE(MustLookup("prime").instances.empty());
}

TEST_F(LeaseTableTest, HeartbeatDoesNotChangeTheVersion) {
  Lease lease = MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  ASSERT_TRUE(table_.Heartbeat("prime", "r1", lease.lease_id, "").ok());
  EXPECT_EQ(VersionOf("prime"), version);
}

TEST_F(LeaseTableTest, HeartbeatOfUnknownInstanceIsUnknownInstance) {
  EXPECT_EQ(table_.Heartbeat("prime", "r1", "x", "").status().code(),
            StatusCode::kUnknownInstance);
  MustRegister("prime", Instance("r2"));
  EXPECT_EQ(table_.Heartbeat("prime", "r1", "x", "").status().code(),
            StatusCode::kUnknownInstance);
  EXPECT_EQ(table_.Heartbeat("voting", "r2", "x", "").status().code(),
            StatusCode::kUnknownInstance);
}

TEST_F(LeaseTableTest, HeartbeatAtExactlyTtlIsUnknownInstance) {
  Lease lease = MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(kTtlMs);
  EXPECT_EQ(table_.Heartbeat("prime", "r1", lease.lease_id, "").status().code(),
            StatusCode::kUnknownInstance);
}

TEST_F(LeaseTableTest, HeartbeatOneMillisecondBeforeTtlRenews) {
  Lease lease = MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(kTtlMs - 1);
  EXPECT_TRUE(table_.Heartbeat("prime", "r1", lease.lease_id, "").ok());
}

TEST_F(LeaseTableTest, HeartbeatWithAnotherLeaseIsPermissionDenied) {
  MustRegister("prime", Instance("r1"));
  EXPECT_EQ(table_.Heartbeat("prime", "r1", std::string(32, '0'), "").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(table_.Heartbeat("prime", "r1", "", "").status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(LeaseTableTest, HeartbeatWithWrongLeaseDoesNotRenew) {
  MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(2000);
  EXPECT_FALSE(table_.Heartbeat("prime", "r1", "wrong", "").ok());
  clock_.AdvanceMillis(1000);
  EXPECT_TRUE(MustLookup("prime").instances.empty());
}

TEST_F(LeaseTableTest, HeartbeatAfterDeregisterIsUnknownInstance) {
  Lease lease = MustRegister("prime", Instance("r1"));
  ASSERT_TRUE(table_.Deregister("prime", "r1", lease.lease_id, "").ok());
  EXPECT_EQ(table_.Heartbeat("prime", "r1", lease.lease_id, "").status().code(),
            StatusCode::kUnknownInstance);
}

// ---------------------------------------------------------------- Deregister

TEST_F(LeaseTableTest, DeregisterRemovesAtOnceAndChangesVersion) {
  Lease lease = MustRegister("prime", Instance("r1"));
  MustRegister("prime", Instance("r2", "h", 2));
  const int64_t version = VersionOf("prime");
  ASSERT_TRUE(table_.Deregister("prime", "r1", lease.lease_id, "").ok());
  Membership m = MustLookup("prime");
  EXPECT_EQ(Ids(m), std::vector<std::string>{"r2"});
  EXPECT_GT(m.version, version);
}

TEST_F(LeaseTableTest, DeregisterOfUnknownInstanceIsOkAndChangesNothing) {
  EXPECT_TRUE(table_.Deregister("prime", "r1", "x", "").ok());
  MustRegister("prime", Instance("r2"));
  const int64_t version = VersionOf("prime");
  EXPECT_TRUE(table_.Deregister("prime", "r1", "x", "").ok());
  EXPECT_EQ(VersionOf("prime"), version);
}

TEST_F(LeaseTableTest, DeregisterTwiceIsOk) {
  Lease lease = MustRegister("prime", Instance("r1"));
  EXPECT_TRUE(table_.Deregister("prime", "r1", lease.lease_id, "").ok());
  EXPECT_TRUE(table_.Deregister("prime", "r1", lease.lease_id, "").ok());
}

TEST_F(LeaseTableTest, DeregisterWithAnotherLeaseIsPermissionDeniedAndKeepsInstance) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  EXPECT_EQ(table_.Deregister("prime", "r1", "not-mine", "").code(),
            StatusCode::kPermissionDenied);
  Membership m = MustLookup("prime");
  EXPECT_EQ(m.instances.size(), 1u);
  EXPECT_EQ(m.version, version);
}

// ---------------------------------------------------------------- Versions

TEST_F(LeaseTableTest, VersionsStartAboveInitialVersion) {
  MustRegister("prime", Instance("r1"));
  EXPECT_EQ(VersionOf("prime"), kInitialVersion + 1);
}

TEST_F(LeaseTableTest, EveryMembershipChangeGetsAHigherVersionFromOneCounter) {
  Lease r1 = MustRegister("prime", Instance("r1", "h", 1));
  const int64_t v1 = VersionOf("prime");
  MustRegister("voting", Instance("r1", "h", 1));
  const int64_t v_voting = VersionOf("voting");
  MustRegister("prime", Instance("r2", "h", 2));
  const int64_t v2 = VersionOf("prime");
  ASSERT_TRUE(table_.Deregister("prime", "r1", r1.lease_id, "").ok());
  const int64_t v3 = VersionOf("prime");
  EXPECT_LT(v1, v_voting);
  EXPECT_LT(v_voting, v2);
  EXPECT_LT(v2, v3);
}

TEST_F(LeaseTableTest, ReadsDoNotChangeVersions) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  (void)table_.ListServices();
  (void)table_.SweepExpired();
  EXPECT_TRUE(table_.Watch("prime", 0, 1).ok());
  EXPECT_EQ(VersionOf("prime"), version);
}

TEST_F(LeaseTableTest, NegativeInitialVersionCountsAsZero) {
  LeaseTable table(clock_, DefaultOptions(), -50);
  ASSERT_TRUE(table.Register("prime", Instance("r1"), "", "").ok());
  EXPECT_EQ(table.Lookup("prime")->version, 1);
}

// ---------------------------------------------------------------- Expiry

TEST_F(LeaseTableTest, LeaseIsLiveOneMillisecondBeforeTtl) {
  MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(kTtlMs - 1);
  EXPECT_EQ(MustLookup("prime").instances.size(), 1u);
  clock_.AdvanceMicros(999);  // one microsecond before the end
  EXPECT_EQ(MustLookup("prime").instances.size(), 1u);
}

TEST_F(LeaseTableTest, ExpiredInstanceIsNeverReturnedEvenWithoutSweep) {
  MustRegister("prime", Instance("r1"));
  MustRegister("prime", Instance("r2", "h", 2));
  clock_.AdvanceMillis(1000);
  MustRegister("prime", Instance("r3", "h", 3));
  clock_.AdvanceMillis(kTtlMs - 1000);  // r1, r2 end exactly now
  EXPECT_EQ(Ids(MustLookup("prime")), std::vector<std::string>{"r3"});
  clock_.AdvanceMillis(1000);
  EXPECT_TRUE(MustLookup("prime").instances.empty());
}

TEST_F(LeaseTableTest, LazyExpiryChangesVersionOnce) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  clock_.AdvanceMillis(kTtlMs);
  const int64_t expired_version = VersionOf("prime");
  EXPECT_GT(expired_version, version);
  EXPECT_EQ(VersionOf("prime"), expired_version);
}

TEST_F(LeaseTableTest, ListServicesOmitsExpiredInstances) {
  MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(1);
  MustRegister("voting", Instance("r1"));
  clock_.AdvanceMillis(kTtlMs - 1);
  std::vector<ServiceSummary> list = table_.ListServices();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].service_name, "voting");
}

TEST_F(LeaseTableTest, WatchNeverReturnsAnExpiredInstance) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  clock_.AdvanceMillis(kTtlMs);
  Result<Membership> m = table_.Watch("prime", version, 60000);  // must not wait
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->instances.empty());
  EXPECT_GT(m->version, version);
}

TEST_F(LeaseTableTest, SweepExpiredRemovesAndReportsExpiredInstances) {
  MustRegister("prime", Instance("r1"));
  MustRegister("voting", Instance("v1"));
  clock_.AdvanceMillis(1);
  MustRegister("prime", Instance("r2", "h", 2));
  EXPECT_TRUE(table_.SweepExpired().empty());
  clock_.AdvanceMillis(kTtlMs - 1);
  std::vector<ExpiredInstance> expired = table_.SweepExpired();
  ASSERT_EQ(expired.size(), 2u);
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& e : expired) got.insert({e.service_name, e.instance_id});
  EXPECT_EQ(got, (std::set<std::pair<std::string, std::string>>{{"prime", "r1"},
                                                                {"voting", "v1"}}));
  EXPECT_TRUE(table_.SweepExpired().empty());
  EXPECT_EQ(Ids(MustLookup("prime")), std::vector<std::string>{"r2"});
}

TEST_F(LeaseTableTest, SweepReportsInstancesThatReadsExpiredOnTheWay) {
  MustRegister("prime", Instance("r1"));
  clock_.AdvanceMillis(kTtlMs);
  EXPECT_TRUE(MustLookup("prime").instances.empty());
  std::vector<ExpiredInstance> expired = table_.SweepExpired();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].service_name, "prime");
  EXPECT_EQ(expired[0].instance_id, "r1");
}

TEST_F(LeaseTableTest, DeregisteredInstanceIsNotReportedAsExpired) {
  Lease lease = MustRegister("prime", Instance("r1"));
  ASSERT_TRUE(table_.Deregister("prime", "r1", lease.lease_id, "").ok());
  clock_.AdvanceMillis(kTtlMs);
  EXPECT_TRUE(table_.SweepExpired().empty());
}

// ---------------------------------------------------------------- ListServices

TEST_F(LeaseTableTest, ListServicesIsEmptyForEmptyTable) {
  EXPECT_TRUE(table_.ListServices().empty());
}

TEST_F(LeaseTableTest, ListServicesIsSortedWithCountsAndVersions) {
  MustRegister("voting", Instance("v1"));
  MustRegister("prime", Instance("p1", "h", 1));
  MustRegister("prime", Instance("p2", "h", 2));
  std::vector<ServiceSummary> list = table_.ListServices();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].service_name, "prime");
  EXPECT_EQ(list[0].instance_count, 2);
  EXPECT_EQ(list[0].version, VersionOf("prime"));
  EXPECT_EQ(list[1].service_name, "voting");
  EXPECT_EQ(list[1].instance_count, 1);
  EXPECT_EQ(list[1].version, VersionOf("voting"));
}

// ---------------------------------------------------------------- Tombstones

TEST_F(LeaseTableTest, EmptiedServiceKeepsItsVersionAsTombstone) {
  Lease lease = MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  ASSERT_TRUE(table_.Deregister("prime", "r1", lease.lease_id, "").ok());
  Membership m = MustLookup("prime");
  EXPECT_TRUE(m.instances.empty());
  EXPECT_GT(m.version, version);
  EXPECT_TRUE(table_.ListServices().empty());  // only services with instances
}

class SmallServiceLimitTest : public LeaseTableTest {
 protected:
  static LeaseTableOptions ThreeServices() {
    LeaseTableOptions options = DefaultOptions();
    options.max_services = 3;
    return options;
  }
  SmallServiceLimitTest() : LeaseTableTest(ThreeServices()) {}
};

TEST_F(SmallServiceLimitTest, OldestChangedTombstoneIsEvictedForANewService) {
  Lease b = MustRegister("b", Instance("r1"));
  Lease c = MustRegister("c", Instance("r1"));
  MustRegister("a", Instance("r1"));
  ASSERT_TRUE(table_.Deregister("b", "r1", b.lease_id, "").ok());  // older tombstone
  ASSERT_TRUE(table_.Deregister("c", "r1", c.lease_id, "").ok());
  const int64_t c_version = VersionOf("c");
  MustRegister("d", Instance("r1"));
  EXPECT_EQ(VersionOf("b"), 0);  // forgotten
  EXPECT_EQ(VersionOf("c"), c_version);
  EXPECT_EQ(MustLookup("a").instances.size(), 1u);
}

TEST_F(SmallServiceLimitTest, ServiceLimitWithoutTombstonesIsResourceExhausted) {
  MustRegister("a", Instance("r1"));
  MustRegister("b", Instance("r1"));
  MustRegister("c", Instance("r1"));
  EXPECT_EQ(table_.Register("d", Instance("r1"), "", "").status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(VersionOf("d"), 0);
}

TEST_F(SmallServiceLimitTest, RegisteringIntoATombstoneNeedsNoRoom) {
  Lease a = MustRegister("a", Instance("r1"));
  MustRegister("b", Instance("r1"));
  MustRegister("c", Instance("r1"));
  ASSERT_TRUE(table_.Deregister("a", "r1", a.lease_id, "").ok());
  MustRegister("a", Instance("r2"));
  EXPECT_EQ(table_.ListServices().size(), 3u);
}

TEST_F(SmallServiceLimitTest, ExpiredServicesBecomeEvictableTombstones) {
  MustRegister("a", Instance("r1"));
  MustRegister("b", Instance("r1"));
  MustRegister("c", Instance("r1"));
  clock_.AdvanceMillis(kTtlMs);
  MustRegister("d", Instance("r1"));
  EXPECT_EQ(MustLookup("d").instances.size(), 1u);
}

// ---------------------------------------------------------------- Limits

class SmallInstanceLimitTest : public LeaseTableTest {
 protected:
  static LeaseTableOptions Limits() {
    LeaseTableOptions options = DefaultOptions();
    options.max_instances_per_service = 2;
    options.max_instances_total = 3;
    return options;
  }
  SmallInstanceLimitTest() : LeaseTableTest(Limits()) {}
};

TEST_F(SmallInstanceLimitTest, PerServiceLimitIsResourceExhausted) {
  MustRegister("prime", Instance("r1", "h", 1));
  MustRegister("prime", Instance("r2", "h", 2));
  Result<Lease> r = table_.Register("prime", Instance("r3", "h", 3), "", "");
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("prime"), std::string::npos);
  EXPECT_EQ(MustLookup("prime").instances.size(), 2u);
  EXPECT_TRUE(table_.Register("voting", Instance("r3", "h", 3), "", "").ok());
}

TEST_F(SmallInstanceLimitTest, TotalLimitIsResourceExhausted) {
  MustRegister("a", Instance("r1"));
  MustRegister("b", Instance("r1"));
  MustRegister("c", Instance("r1"));
  EXPECT_EQ(table_.Register("d", Instance("r1"), "", "").status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(VersionOf("d"), 0);
}

TEST_F(SmallInstanceLimitTest, RefreshingAHeldInstanceIsAllowedAtTheLimit) {
  Lease r1 = MustRegister("prime", Instance("r1", "h", 1));
  MustRegister("prime", Instance("r2", "h", 2));
  EXPECT_TRUE(table_.Register("prime", Instance("r1", "h", 1), r1.lease_id, "").ok());
}

TEST_F(SmallInstanceLimitTest, ExpiredInstancesDoNotCountTowardLimits) {
  MustRegister("prime", Instance("r1", "h", 1));
  MustRegister("prime", Instance("r2", "h", 2));
  clock_.AdvanceMillis(kTtlMs);
  EXPECT_TRUE(table_.Register("prime", Instance("r3", "h", 3), "", "").ok());
}

TEST_F(SmallInstanceLimitTest, DeregisteredInstancesFreeTheirSlot) {
  Lease r1 = MustRegister("prime", Instance("r1", "h", 1));
  MustRegister("prime", Instance("r2", "h", 2));
  ASSERT_TRUE(table_.Deregister("prime", "r1", r1.lease_id, "").ok());
  EXPECT_TRUE(table_.Register("prime", Instance("r3", "h", 3), "", "").ok());
}

TEST(LeaseTableOptions, DefaultsAreValid) {
  EXPECT_TRUE(LeaseTableOptions{}.Validate().ok());
}

TEST(LeaseTableOptions, OutOfRangeOptionsAreNamed) {
  LeaseTableOptions o;
  o.ttl_ms = 0;
  ExpectInvalid(o.Validate(), "ttl_ms");
  o = {};
  o.max_instances_total = 0;
  ExpectInvalid(o.Validate(), "max_instances_total");
  o = {};
  o.max_instances_per_service = 0;
  ExpectInvalid(o.Validate(), "max_instances_per_service");
  o = {};
  o.max_watchers = 0;
  ExpectInvalid(o.Validate(), "max_watchers");
  o = {};
  o.max_services = 0;
  ExpectInvalid(o.Validate(), "max_services");
  o = {};
  o.max_watch_wait_ms = 0;
  ExpectInvalid(o.Validate(), "max_watch_wait_ms");
}

// ---------------------------------------------------------------- Watch

// Watches wait on the table's FakeClock. FakeClock::AdvanceMillis returns
// only after every waiter has seen the new time (returned, or checked again
// and waits on), so right after it table_.watcher_count() tells whether a
// watch still waits, without sleeping.

TEST_F(LeaseTableTest, WatchReturnsAtOnceWhenVersionDiffers) {
  MustRegister("prime", Instance("r1"));
  BackgroundWatch watch(&table_, "prime", 0, 60000);
  // The clock never moves: only an answer without waiting can arrive.
  ASSERT_TRUE(watch.WaitDone(milliseconds(5000)));
  const Result<Membership>& m = watch.result();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->version, VersionOf("prime"));
  EXPECT_EQ(Ids(*m), std::vector<std::string>{"r1"});
}

TEST_F(LeaseTableTest, WatchTimesOutWithUnchangedMembership) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  BackgroundWatch watch(&table_, "prime", version, 20);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1 || watch.done(); }));
  clock_.AdvanceMillis(19);
  EXPECT_EQ(table_.watcher_count(), 1u);  // not before its 20 ms
  clock_.AdvanceMillis(1);
  ASSERT_TRUE(watch.WaitDone());
  const Result<Membership>& m = watch.result();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->version, version);
  EXPECT_EQ(Ids(*m), std::vector<std::string>{"r1"});
  EXPECT_EQ(table_.watcher_count(), 0u);
}

TEST_F(LeaseTableTest, WatchOfNeverSeenServiceAtVersionZeroWaits) {
  BackgroundWatch watch(&table_, "prime", 0, 10);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1 || watch.done(); }));
  clock_.AdvanceMillis(9);
  EXPECT_EQ(table_.watcher_count(), 1u);  // not before its 10 ms
  clock_.AdvanceMillis(1);
  ASSERT_TRUE(watch.WaitDone());
  ASSERT_TRUE(watch.result().ok());
  EXPECT_EQ(watch.result()->version, 0);
}

TEST_F(LeaseTableTest, ChangeOfAnotherServiceDoesNotEndAWatch) {
  BackgroundWatch watch(&table_, "prime", 0, 50);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1 || watch.done(); }));
  MustRegister("voting", Instance("v1"));  // wakes every waiting watch
  // The watch has checked again after the change, and waits on.
  clock_.AdvanceMillis(1);
  EXPECT_EQ(table_.watcher_count(), 1u);
  clock_.AdvanceMillis(48);
  EXPECT_EQ(table_.watcher_count(), 1u);
  // It ends at its own deadline, with its own (unchanged) service.
  clock_.AdvanceMillis(1);
  ASSERT_TRUE(watch.WaitDone());
  EXPECT_EQ(table_.watcher_count(), 0u);
  ASSERT_TRUE(watch.result().ok());
  EXPECT_EQ(watch.result()->service_name, "prime");
  EXPECT_EQ(watch.result()->version, 0);
  EXPECT_TRUE(watch.result()->instances.empty());
}

TEST_F(LeaseTableTest, WatchKeptWaitingByAnotherServiceEndsAtAChangeOfItsOwn) {
  BackgroundWatch watch(&table_, "prime", 0, 50);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1 || watch.done(); }));
  MustRegister("voting", Instance("v1"));
  clock_.AdvanceMillis(1);
  EXPECT_EQ(table_.watcher_count(), 1u);
  MustRegister("prime", Instance("r1"));
  ASSERT_TRUE(watch.WaitDone());
  ASSERT_TRUE(watch.result().ok());
  EXPECT_EQ(watch.result()->version, VersionOf("prime"));
  EXPECT_EQ(Ids(*watch.result()), std::vector<std::string>{"r1"});
}

TEST_F(LeaseTableTest, WatchWakesWhenAnotherThreadRegisters) {
  BackgroundWatch watch(&table_, "prime", 0, 30000);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1; }));
  EXPECT_FALSE(watch.done());
  MustRegister("prime", Instance("r1"));
  ASSERT_TRUE(watch.WaitDone());
  ASSERT_TRUE(watch.result().ok());
  EXPECT_EQ(watch.result()->version, VersionOf("prime"));
  EXPECT_EQ(Ids(*watch.result()), std::vector<std::string>{"r1"});
  EXPECT_EQ(table_.watcher_count(), 0u);
}

TEST_F(LeaseTableTest, WatchWakesWhenSweepExpiresAnInstance) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  BackgroundWatch watch(&table_, "prime", version, 30000);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1; }));
  clock_.AdvanceMillis(kTtlMs);
  ASSERT_EQ(table_.SweepExpired().size(), 1u);
  ASSERT_TRUE(watch.WaitDone());
  ASSERT_TRUE(watch.result().ok());
  EXPECT_GT(watch.result()->version, version);
  EXPECT_TRUE(watch.result()->instances.empty());
}

TEST_F(LeaseTableTest, WatchThatTimesOutNeverReturnsALeaseThatExpiredMeanwhile) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  BackgroundWatch watch(&table_, "prime", version, 50);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1 || watch.done(); }));
  clock_.AdvanceMillis(kTtlMs);  // nothing sweeps
  ASSERT_TRUE(watch.WaitDone());
  ASSERT_TRUE(watch.result().ok());
  EXPECT_TRUE(watch.result()->instances.empty());
  EXPECT_GT(watch.result()->version, version);
}

TEST_F(LeaseTableTest, ShutdownWakesWatchersWithCurrentMembership) {
  MustRegister("prime", Instance("r1"));
  const int64_t version = VersionOf("prime");
  BackgroundWatch watch(&table_, "prime", version, 30000);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1; }));
  table_.Shutdown();
  ASSERT_TRUE(watch.WaitDone());
  ASSERT_TRUE(watch.result().ok());
  EXPECT_EQ(watch.result()->version, version);
  EXPECT_EQ(Ids(*watch.result()), std::vector<std::string>{"r1"});
}

TEST_F(LeaseTableTest, WatchAfterShutdownReturnsAtOnce) {
  table_.Shutdown();
  BackgroundWatch watch(&table_, "prime", 0, 60000);
  ASSERT_TRUE(watch.WaitDone(milliseconds(5000)));  // the clock never moves
  EXPECT_TRUE(watch.result().ok());
  MustRegister("prime", Instance("r1"));  // everything else keeps working
}

class SmallWatcherLimitTest : public LeaseTableTest {
 protected:
  static LeaseTableOptions TwoWatchers() {
    LeaseTableOptions options = DefaultOptions();
    options.max_watchers = 2;
    return options;
  }
  SmallWatcherLimitTest() : LeaseTableTest(TwoWatchers()) {}
};

TEST_F(SmallWatcherLimitTest, WatchBeyondTheLimitIsResourceExhausted) {
  BackgroundWatch w1(&table_, "prime", 0, 30000);
  BackgroundWatch w2(&table_, "voting", 0, 30000);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 2; }));
  EXPECT_EQ(table_.Watch("prime", 0, 1).status().code(), StatusCode::kResourceExhausted);
  // A watch that need not wait is still answered.
  EXPECT_TRUE(table_.Watch("prime", 7, 1).ok());
  MustRegister("prime", Instance("r1"));  // frees w1's slot
  ASSERT_TRUE(w1.WaitDone());
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 1; }));
  BackgroundWatch w3(&table_, "prime", VersionOf("prime"), 1);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 2 || w3.done(); }));
  clock_.AdvanceMillis(1);
  ASSERT_TRUE(w3.WaitDone());
  EXPECT_TRUE(w3.result().ok());
}

TEST_F(LeaseTableTest, TwoHundredWatchersAllWakeOnOneChange) {
  constexpr int kWatchers = 200;
  std::atomic<int> woken{0};
  std::atomic<int> saw_instance{0};
  std::vector<std::thread> threads;
  threads.reserve(kWatchers);
  for (int i = 0; i < kWatchers; ++i) {
    threads.emplace_back([&] {
      Result<Membership> m = table_.Watch("prime", 0, 30000);
      if (m.ok() && m->instances.size() == 1) ++saw_instance;
      ++woken;
    });
  }
  const bool all_waiting =
      PollUntil([&] { return table_.watcher_count() == static_cast<size_t>(kWatchers); });
  MustRegister("prime", Instance("r1"));
  const auto start = steady_clock::now();
  const bool all_woken = PollUntil([&] { return woken.load() == kWatchers; });
  const auto elapsed = steady_clock::now() - start;
  if (!all_woken) table_.Shutdown();
  for (auto& t : threads) t.join();
  EXPECT_TRUE(all_waiting);
  EXPECT_TRUE(all_woken);
  EXPECT_EQ(saw_instance.load(), kWatchers);
  EXPECT_LT(elapsed, milliseconds(2000));
}

// ------------------------------------------------- Watch without a thread
// StartWatch/CancelWatch, the path of the event-driven registry server.

// Records what each parked watch's completion received.
class Completions {
 public:
  WatchCompletion For(int watcher) {
    return [this, watcher](MembershipSnapshot m) {
      std::lock_guard<std::mutex> lock(mu_);
      got_[watcher].push_back(std::move(m));
    };
  }
  // Every snapshot watcher `w` received, in order.
  std::vector<MembershipSnapshot> Of(int w) {
    std::lock_guard<std::mutex> lock(mu_);
    return got_[w];
  }
  size_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [w, list] : got_) n += list.size();
    return n;
  }

 private:
  std::mutex mu_;
  std::map<int, std::vector<MembershipSnapshot>> got_;
};

TEST_F(LeaseTableTest, ChangeCompletesOnlyItsOwnServicesWatchers) {
  MustRegister("prime", Instance("p1"));
  MustRegister("voting", Instance("v1"));
  const int64_t prime = VersionOf("prime");
  const int64_t voting = VersionOf("voting");
  Completions done;
  for (int w = 0; w < 3; ++w) {
    Result<WatchStart> s = table_.StartWatch("prime", prime, 60000, done.For(w));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->now, nullptr);
  }
  ASSERT_TRUE(table_.StartWatch("voting", voting, 60000, done.For(10)).ok());
  MustRegister("voting", Instance("v2"));
  EXPECT_EQ(done.Of(10).size(), 1u);
  EXPECT_EQ(done.total(), 1u);
  EXPECT_EQ(table_.watchers_woken(), 1u);
  EXPECT_EQ(table_.watcher_count(), 3u);
  table_.Shutdown();  // completes the prime watchers (not counted as woken)
  EXPECT_EQ(table_.watchers_woken(), 1u);
}

TEST_F(LeaseTableTest, EveryWatcherSeesTheNewVersionExactlyOnceInOneSharedSnapshot) {
  MustRegister("prime", Instance("p1"));
  const int64_t before = VersionOf("prime");
  Completions done;
  constexpr int kWatchers = 50;
  for (int w = 0; w < kWatchers; ++w) {
    ASSERT_TRUE(table_.StartWatch("prime", before, 60000, done.For(w)).ok());
  }
  MustRegister("prime", Instance("p2"));
  MustRegister("prime", Instance("p3"));  // a second change finds nobody parked
  const MembershipSnapshot first = done.Of(0).at(0);
  EXPECT_NE(first->version, before);
  EXPECT_EQ(first->instances.size(), 2u);
  for (int w = 0; w < kWatchers; ++w) {
    ASSERT_EQ(done.Of(w).size(), 1u) << "watcher " << w;
    EXPECT_EQ(done.Of(w)[0].get(), first.get()) << "one snapshot per version";
  }
  EXPECT_EQ(table_.watchers_woken(), static_cast<uint64_t>(kWatchers));
  EXPECT_EQ(table_.watcher_count(), 0u);
}

TEST_F(LeaseTableTest, StartWatchWithAnOldVersionAnswersAtOnce) {
  MustRegister("prime", Instance("p1"));
  Completions done;
  Result<WatchStart> s = table_.StartWatch("prime", 1, 60000, done.For(0));
  ASSERT_TRUE(s.ok());
  ASSERT_NE(s->now, nullptr);
  EXPECT_EQ(s->now->version, VersionOf("prime"));
  EXPECT_EQ(table_.watcher_count(), 0u);
  MustRegister("prime", Instance("p2"));
  EXPECT_EQ(done.total(), 0u) << "a watch answered at once keeps no completion";
}

TEST_F(LeaseTableTest, CancelledWatchReturnsTheUnchangedMembershipAndIsNeverCompleted) {
  MustRegister("prime", Instance("p1"));
  const int64_t version = VersionOf("prime");
  Completions done;
  Result<WatchStart> s = table_.StartWatch("prime", version, 60000, done.For(0));
  ASSERT_TRUE(s.ok());
  MembershipSnapshot unchanged = table_.CancelWatch("prime", s->ticket);
  ASSERT_NE(unchanged, nullptr);
  EXPECT_EQ(unchanged->version, version);
  EXPECT_EQ(table_.watcher_count(), 0u);
  MustRegister("prime", Instance("p2"));
  EXPECT_EQ(done.total(), 0u);
  EXPECT_EQ(table_.CancelWatch("prime", s->ticket), nullptr) << "cancel is once";
}

TEST_F(LeaseTableTest, CancelAfterTheCompletionRanReturnsNull) {
  Completions done;
  Result<WatchStart> s = table_.StartWatch("prime", 0, 60000, done.For(0));
  ASSERT_TRUE(s.ok());
  MustRegister("prime", Instance("p1"));
  EXPECT_EQ(table_.CancelWatch("prime", s->ticket), nullptr);
  EXPECT_EQ(done.Of(0).size(), 1u);
}

TEST_F(LeaseTableTest, StartWatchHonoursTheWatcherLimit) {
  LeaseTableOptions options = DefaultOptions();
  options.max_watchers = 1;
  LeaseTable table(clock_, options, kInitialVersion);
  Completions done;
  ASSERT_TRUE(table.StartWatch("prime", 0, 1000, done.For(0)).ok());
  EXPECT_EQ(table.StartWatch("prime", 0, 1000, done.For(1)).status().code(),
            StatusCode::kResourceExhausted);
  table.Shutdown();
  EXPECT_EQ(done.Of(0).size(), 1u);
}

TEST_F(LeaseTableTest, BlockingWatchersOfAnotherServiceAreNotWoken) {
  MustRegister("prime", Instance("p1"));
  const int64_t version = VersionOf("prime");
  BackgroundWatch a(&table_, "prime", version, 60000);
  BackgroundWatch b(&table_, "prime", version, 60000);
  ASSERT_TRUE(PollUntil([&] { return table_.watcher_count() == 2; }));
  MustRegister("voting", Instance("v1"));
  EXPECT_EQ(table_.watchers_woken(), 0u);
  EXPECT_EQ(table_.watcher_count(), 2u);
  MustRegister("prime", Instance("p2"));
  ASSERT_TRUE(a.WaitDone());
  ASSERT_TRUE(b.WaitDone());
  EXPECT_EQ(table_.watchers_woken(), 2u);
  EXPECT_EQ(a.result()->instances.size(), 2u);
}

// ---------------------------------------------------------------- Concurrency

class ConcurrencyTest : public LeaseTableTest {
 protected:
  static LeaseTableOptions Options() {
    LeaseTableOptions options = DefaultOptions();
    options.ttl_ms = 40;
    options.max_instances_total = 10;  // below the 12 ids the workers use
    return options;
  }
  ConcurrencyTest() : LeaseTableTest(Options()) {}
};

// Workers register, heartbeat, deregister and look up their own instances
// while a sweeper expires them and moves the fake clock. Checked: no
// unexpected error codes; lookups sorted and unique; per observer a service's
// version never goes back; two lookups at the same (service, version) see the
// same instances (the version changes whenever membership does); limits hold.
TEST_F(ConcurrencyTest, ConcurrentUseKeepsInvariants) {
  constexpr int kWorkers = 4;
  constexpr int kIterations = 1500;
  constexpr int kMinSweeps = 300;
  const std::vector<std::string> services = {"prime", "voting"};
  std::mutex seen_mu;
  std::map<std::pair<std::string, int64_t>, std::vector<InstanceInfo>>
      seen;  // Guarded by seen_mu
  std::atomic<bool> stop_sweeper{false};
  std::atomic<int> sweeps{0};
  std::atomic<int> failures{0};
  std::atomic<int> expired_reported{0};

  auto fail = [&](const std::string& what) {
    if (failures++ < 10) ADD_FAILURE() << what;
  };
  auto check_lookup = [&](const Membership& m,
                          std::map<std::string, int64_t>* last_version) {
    for (size_t i = 1; i < m.instances.size(); ++i) {
      if (!(m.instances[i - 1].id < m.instances[i].id)) fail("unsorted or duplicate ids");
    }
    if (m.instances.size() > 10) fail("more instances than max_instances_total");
    int64_t& last = (*last_version)[m.service_name];
    if (m.version < last) fail("version went back");
    last = m.version;
    std::lock_guard<std::mutex> lock(seen_mu);
    auto [it, inserted] =
        seen.emplace(std::make_pair(m.service_name, m.version), m.instances);
    if (!inserted && it->second != m.instances) {
      fail("same version, different membership in " + m.service_name);
    }
  };

  std::thread sweeper([&] {
    // Half a ttl per sweep: an id not renewed across two sweeps expires.
    while (!stop_sweeper) {
      clock_.AdvanceMillis(20);
      expired_reported += static_cast<int>(table_.SweepExpired().size());
      ++sweeps;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::map<std::string, int64_t> last_version;
      std::map<std::string, std::string> leases;  // instance key -> lease_id
      // Runs until both enough calls and enough sweeps have happened, however
      // the threads are scheduled.
      for (int i = 0; i < kIterations || sweeps < kMinSweeps; ++i) {
        const std::string& service = services[i % services.size()];
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i % 3);
        const InstanceInfo info =
            Instance(id, "10.0.0." + std::to_string(w), 1000 + i % 3,
                     {{"round", std::to_string(i % 2)}});
        const std::string key = service + "/" + id;
        switch (i % 5) {
          case 0:
          case 1: {
            Result<Lease> r = table_.Register(service, info, leases[key], "");
            if (r.ok()) {
              leases[key] = r->lease_id;
            } else if (r.status().code() != StatusCode::kResourceExhausted) {
              fail("register: " + r.status().ToString());
            }
            break;
          }
          case 2: {
            // Only this worker uses this id, so its remembered lease is the
            // live one whenever the id is live: never PermissionDenied.
            Result<Lease> r = table_.Heartbeat(service, id, leases[key], "");
            if (!r.ok() && r.status().code() != StatusCode::kUnknownInstance) {
              fail("heartbeat: " + r.status().ToString());
            }
            break;
          }
          case 3: {
            if (i % 15 == 3) {
              Status s = table_.Deregister(service, id, leases[key], "");
              if (!s.ok()) fail("deregister: " + s.ToString());
            }
            break;
          }
          default: {
            Result<Membership> m = table_.Lookup(service);
            if (!m.ok()) {
              fail("lookup: " + m.status().ToString());
            } else {
              check_lookup(*m, &last_version);
            }
            for (const ServiceSummary& s : table_.ListServices()) {
              if (s.instance_count < 1) fail("listed an empty service");
            }
          }
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  stop_sweeper = true;
  sweeper.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(expired_reported.load(), 0) << "the sweeper should have seen expiries";
  EXPECT_GT(seen.size(), 10u) << "memberships should have changed many times";
  size_t listed = 0;
  for (const ServiceSummary& s : table_.ListServices()) {
    listed += static_cast<size_t>(s.instance_count);
    EXPECT_EQ(static_cast<size_t>(s.instance_count),
              MustLookup(s.service_name).instances.size());
  }
  EXPECT_LE(listed, 10u);
}

}  // namespace
}  // namespace beacon::registry
