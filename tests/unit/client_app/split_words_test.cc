// SplitWords: how a shell line becomes a command's words.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "commands.h"

namespace beacon::client_app {
namespace {

using Words = std::vector<std::string>;

Words Split(const std::string& line) {
  auto words = SplitWords(line);
  EXPECT_TRUE(words.ok()) << words.status().ToString();
  return words.ok() ? *words : Words{"<error>"};
}

TEST(SplitWords, EmptyAndBlankLinesHaveNoWords) {
  EXPECT_EQ(Split(""), Words{});
  EXPECT_EQ(Split("   \t \r"), Words{});
}

TEST(SplitWords, SpacesTabsAndCarriageReturnsSeparate) {
  EXPECT_EQ(Split("vote 7  alice\tred\r"), (Words{"vote", "7", "alice", "red"}));
  EXPECT_EQ(Split("  prime 7  "), (Words{"prime", "7"}));
}

TEST(SplitWords, DoubleQuotesGroupAndKeepSingleQuotes) {
  EXPECT_EQ(Split("create-poll \"Best colour?\" \"it's red\" blue"),
            (Words{"create-poll", "Best colour?", "it's red", "blue"}));
}

TEST(SplitWords, SingleQuotesGroupAndKeepEverythingLiterally) {
  EXPECT_EQ(Split("a 'say \"hi\" \\n now'"), (Words{"a", "say \"hi\" \\n now"}));
}

TEST(SplitWords, BackslashEscapesInsideDoubleQuotes) {
  EXPECT_EQ(Split("\"a \\\"b\\\" \\\\ c\""), (Words{"a \"b\" \\ c"}));
}

TEST(SplitWords, BackslashEscapesOutsideQuotes) {
  EXPECT_EQ(Split("plain\\ word \\'x\\\""), (Words{"plain word", "'x\""}));
}

TEST(SplitWords, TrailingBackslashIsKeptLiterally) {
  EXPECT_EQ(Split("a b\\"), (Words{"a", "b\\"}));
}

TEST(SplitWords, AdjacentQuotedPiecesFormOneWord) {
  EXPECT_EQ(Split("chez' l'\"ami\"x"), (Words{"chez lamix"}));
}

TEST(SplitWords, EmptyQuotesAreAnEmptyWord) {
  EXPECT_EQ(Split("vote '' \"\" x"), (Words{"vote", "", "", "x"}));
}

TEST(SplitWords, NonAsciiBytesPassThrough) {
  EXPECT_EQ(Split("create-poll \"¿Qué? 日本語\" naïve 🎉"),
            (Words{"create-poll", "¿Qué? 日本語", "naïve", "🎉"}));
}

TEST(SplitWords, UnterminatedDoubleQuoteIsAnError) {
  auto words = SplitWords("vote \"alice");
  ASSERT_FALSE(words.ok());
  EXPECT_EQ(words.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(words.status().message(), "unterminated \" quote");
}

TEST(SplitWords, UnterminatedSingleQuoteIsAnError) {
  auto words = SplitWords("vote 'alice");
  ASSERT_FALSE(words.ok());
  EXPECT_EQ(words.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(words.status().message(), "unterminated ' quote");
}

TEST(SplitWords, EscapedQuoteDoesNotOpenAQuote) {
  EXPECT_EQ(Split("it\\'s"), (Words{"it's"}));
}

}  // namespace
}  // namespace beacon::client_app
