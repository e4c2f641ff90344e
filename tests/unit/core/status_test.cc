#include "core/status.h"

#include <gtest/gtest.h>

#include <utility>

namespace beacon {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(Status, ToStringNamesCodeAndMessage) {
  EXPECT_EQ(NotFound("poll 7 not found").ToString(), "not_found: poll 7 not found");
}

TEST(Status, IsOnePointerWide) {
  // Every client call makes and moves a dozen of them: an ok one holds
  // nothing (core/status.h).
  EXPECT_EQ(sizeof(Status), sizeof(void*));
}

TEST(Status, CopiesAndMovesKeepCodeAndMessage) {
  const Status error = Unavailable("replica r2 busy");
  Status copy = error;
  EXPECT_EQ(copy, error);
  EXPECT_EQ(copy.code(), StatusCode::kUnavailable);
  EXPECT_EQ(copy.message(), "replica r2 busy");
  EXPECT_EQ(error.message(), "replica r2 busy");  // the copy is independent

  Status moved = std::move(copy);
  EXPECT_EQ(moved, error);
  EXPECT_TRUE(copy.ok());  // NOLINT(bugprone-use-after-move): documented empty state
  EXPECT_EQ(copy.message(), "");

  Status assigned = Status::Ok();
  assigned = error;
  EXPECT_EQ(assigned, error);
  assigned = Status::Ok();
  EXPECT_TRUE(assigned.ok());
  EXPECT_EQ(assigned.code(), StatusCode::kOk);
  assigned = NotFound("poll 7");
  Status& same = assigned;
  assigned = same;  // self-assignment keeps the value
  EXPECT_EQ(assigned.ToString(), "not_found: poll 7");
  assigned = std::move(same);
  EXPECT_EQ(assigned.ToString(), "not_found: poll 7");
}

TEST(Status, AnOkCodeWithAMessageKeepsTheMessage) {
  const Status s(StatusCode::kOk, "fine");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "fine");
  EXPECT_FALSE(s == Status::Ok());
}

TEST(Result, CarriesValueOrStatus) {
  Result<int> good(5);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 5);
  Result<int> bad(Conflict("closed"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kConflict);
}

}  // namespace
}  // namespace beacon
