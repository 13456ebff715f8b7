#include "engine/wire/utf8.h"

#include <gtest/gtest.h>

namespace ferry::wire {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii, long enough for the 8-byte path"));
  EXPECT_TRUE(
      is_valid_utf8("\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF"));
  EXPECT_TRUE(is_valid_utf8(std::string_view("a\0b", 3)));
}

TEST(Utf8, RejectsIllFormedSequencesAtTheirOffset) {
  EXPECT_EQ(first_invalid_utf8("abc\x80"), 3u);           // lone continuation
  EXPECT_EQ(first_invalid_utf8("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(first_invalid_utf8("ab\xE0\x80\xAF"), 2u);    // overlong 3-byte
  EXPECT_EQ(first_invalid_utf8("\xED\xA0\x80"), 0u);      // surrogate
  EXPECT_EQ(first_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(first_invalid_utf8("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(first_invalid_utf8("0123456789\xE2\x86"), 10u);  // truncated at the end
  EXPECT_EQ(first_invalid_utf8("\xFF"), 0u);
}

TEST(Utf8, RepairReplacesEachBadByte) {
  EXPECT_EQ(to_valid_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(to_valid_utf8("\xC3\xA9"), "\xC3\xA9");
  EXPECT_TRUE(is_valid_utf8(to_valid_utf8("\xE2\x86\xE2\x86\x92\xC0")));
}

TEST(Utf8, PrefixDoesNotSplitCharacters) {
  const std::string text =
      "a\xE2\x86\x92"
      "b";  // a → b
  EXPECT_EQ(utf8_prefix(text, 10), text);
  EXPECT_EQ(utf8_prefix(text, 1), "a");
  EXPECT_EQ(utf8_prefix(text, 2), "a");
  EXPECT_EQ(utf8_prefix(text, 3), "a");
  EXPECT_EQ(utf8_prefix(text, 4), "a\xE2\x86\x92");
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

}  // namespace
}  // namespace ferry::wire
