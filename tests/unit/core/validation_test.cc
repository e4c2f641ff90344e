#include "core/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace beacon {
namespace {

TEST(ValidateName, AcceptsBoundaryLengths) {
  EXPECT_TRUE(ValidateName("id", "a").ok());
  EXPECT_TRUE(ValidateName("id", std::string(64, 'x')).ok());
  EXPECT_TRUE(ValidateName("id", "A-z_0.9").ok());
}

TEST(ValidateName, RejectsEmptyTooLongAndBadCharactersNamingTheField) {
  Status empty = ValidateName("service_name", "");
  EXPECT_EQ(empty.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.message().find("service_name"), std::string::npos);
  EXPECT_FALSE(ValidateName("id", std::string(65, 'x')).ok());
  EXPECT_FALSE(ValidateName("id", "a b").ok());
  EXPECT_FALSE(ValidateName("id", "a/b").ok());
  EXPECT_FALSE(ValidateName("id", std::string("a\0b", 3)).ok());
}

TEST(ValidateText, AcceptsUnicodeAndSqlMetacharacters) {
  EXPECT_TRUE(ValidateText("q",
                           "Qu'est-ce que c'est? \xF0\x9F\x98\x80 ; DROP TABLE votes;--",
                           1, 500)
                  .ok());
}

TEST(ValidateText, RejectsInvalidUtf8ControlCharsAndBadLengths) {
  EXPECT_FALSE(ValidateText("q", "\xC3", 1, 10).ok());          // truncated sequence
  EXPECT_FALSE(ValidateText("q", "\xC0\xAF", 1, 10).ok());      // overlong
  EXPECT_FALSE(ValidateText("q", "\xED\xA0\x80", 1, 10).ok());  // surrogate
  EXPECT_FALSE(ValidateText("q", "a\nb", 1, 10).ok());
  EXPECT_FALSE(ValidateText("q", "", 1, 10).ok());
  EXPECT_FALSE(ValidateText("q", "12345678901", 1, 10).ok());
  EXPECT_TRUE(ValidateText("q", "1234567890", 1, 10).ok());
}

TEST(ValidatePort, Boundaries) {
  EXPECT_FALSE(ValidatePort("port", 0).ok());
  EXPECT_TRUE(ValidatePort("port", 1).ok());
  EXPECT_TRUE(ValidatePort("port", 65535).ok());
  EXPECT_FALSE(ValidatePort("port", 65536).ok());
  EXPECT_FALSE(ValidatePort("port", -1).ok());
}

TEST(ValidateHost, RejectsSpacesAndControlCharacters) {
  EXPECT_TRUE(ValidateHost("host", "replica-1.example").ok());
  EXPECT_FALSE(ValidateHost("host", "").ok());
  EXPECT_FALSE(ValidateHost("host", "a b").ok());
  EXPECT_FALSE(ValidateHost("host", std::string(254, 'a')).ok());
}

TEST(QuoteForMessage, TruncatesAndEscapes) {
  EXPECT_EQ(QuoteForMessage("a\"b\x01"), "\"a\\\"b\\x01\"");
  EXPECT_EQ(QuoteForMessage(std::string(50, 'x')), "\"" + std::string(40, 'x') + "...\"");
}

}  // namespace
}  // namespace beacon
