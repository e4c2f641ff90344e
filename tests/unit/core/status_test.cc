#include "core/status.h"

#include <gtest/gtest.h>

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
