#include "drivers/net/ovs/json_stream_splitter.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry::ovs {
namespace {

using Messages = std::vector<std::string>;

Messages split_all(std::string_view stream, std::size_t chunk) {
  JsonStreamSplitter splitter;
  Messages messages;
  for (std::size_t i = 0; i < stream.size(); i += chunk) {
    auto fed = splitter.feed(stream.substr(i, chunk), messages);
    EXPECT_TRUE(fed.ok()) << fed.error().message();
  }
  EXPECT_EQ(splitter.buffered_bytes(), 0u);
  return messages;
}

TEST(JsonStreamSplitter, SplitsConcatenatedObjectsAndSkipsWhitespaceBetween) {
  const std::string stream = R"({"id":1,"result":[]} {"method":"echo","params":[],"id":"echo"})"
                             "\n\t\r"
                             R"([1,2,{"a":[]}])";
  const Messages expected = {R"({"id":1,"result":[]})",
                             R"({"method":"echo","params":[],"id":"echo"})", R"([1,2,{"a":[]}])"};
  EXPECT_EQ(split_all(stream, stream.size()), expected);
  EXPECT_EQ(split_all(stream, 1), expected);
  EXPECT_EQ(split_all(stream, 7), expected);
}

TEST(JsonStreamSplitter, IgnoresBracketsAndQuotesInsideStrings) {
  const std::string tricky = R"({"a":"}]{[","b":"say \"}\"","c":"back\\","d":"\\\"}"})";
  const std::string stream = tricky + tricky;
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    const Messages messages = split_all(stream, chunk);
    ASSERT_EQ(messages.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(messages[0], tricky);
    EXPECT_EQ(messages[1], tricky);
    EXPECT_EQ(nlohmann::json::parse(messages[1])["d"], "\\\"}");
  }
}

TEST(JsonStreamSplitter, KeepsAnIncompleteMessageUntilItCompletes) {
  JsonStreamSplitter splitter;
  Messages messages;
  ASSERT_TRUE(splitter.feed(R"({"id":1,"res)", messages).ok());
  EXPECT_TRUE(messages.empty());
  EXPECT_EQ(splitter.buffered_bytes(), 12u);
  ASSERT_TRUE(splitter.feed(R"(ult":"x"}{"id")", messages).ok());
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], R"({"id":1,"result":"x"})");
  EXPECT_EQ(splitter.buffered_bytes(), 5u);
  EXPECT_EQ(splitter.consumed_bytes(), 26u);
}

TEST(JsonStreamSplitter, PassesMultiByteUtf8Through) {
  const std::string message = "{\"name\":\"br-\xc3\xa9t\xc3\xa9\xe2\x82\xac\"}";
  EXPECT_EQ(split_all(message + message, 3), Messages({message, message}));
}

TEST(JsonStreamSplitter, RejectsBytesOutsideAMessageAndNamesTheOffset) {
  JsonStreamSplitter splitter;
  Messages messages;
  auto fed = splitter.feed(R"({"a":1}  x{"b":2})", messages);
  ASSERT_FALSE(fed.ok());
  EXPECT_EQ(fed.error().code(), Errc::protocol);
  EXPECT_NE(fed.error().message().find("offset 9"), std::string::npos) << fed.error().message();
  EXPECT_EQ(messages, Messages({R"({"a":1})"}));  // the message before the garbage is kept

  // Once failed, the stream is refused: its position is lost.
  auto again = splitter.feed(R"({"c":3})", messages);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(messages.size(), 1u);
}

TEST(JsonStreamSplitter, RejectsAScalarOrACloserAtTopLevel) {
  for (std::string_view stream : {"}", "]", "42", "\"text\"", "null"}) {
    JsonStreamSplitter splitter;
    Messages messages;
    EXPECT_FALSE(splitter.feed(stream, messages).ok()) << stream;
  }
}

TEST(JsonStreamSplitter, EnforcesTheMessageSizeLimitOnCompleteAndPartialMessages) {
  {
    JsonStreamSplitter splitter(16);
    Messages messages;
    ASSERT_TRUE(splitter.feed(R"({"a":"0123456"})", messages).ok());  // 15 bytes
    auto fed = splitter.feed(R"({"a":"01234567"})", messages);        // 16 bytes: fits
    ASSERT_TRUE(fed.ok());
    fed = splitter.feed(R"({"a":"012345678"})", messages);  // 17 bytes
    ASSERT_FALSE(fed.ok());
    EXPECT_NE(fed.error().message().find("limit of 16 bytes"), std::string::npos);
    EXPECT_EQ(messages.size(), 2u);
  }
  {
    JsonStreamSplitter splitter(16);
    Messages messages;
    ASSERT_TRUE(splitter.feed(R"({"a":"01)", messages).ok());
    auto fed = splitter.feed("23456789abcdef", messages);  // never closes: must not grow forever
    ASSERT_FALSE(fed.ok());
    EXPECT_EQ(fed.error().code(), Errc::protocol);
    EXPECT_EQ(splitter.buffered_bytes(), 0u);
  }
}

TEST(JsonStreamSplitter, RejectsNestingDeeperThanTheLimit) {
  const std::string ok_depth(JsonStreamSplitter::kMaxDepth, '[');
  const std::string ok_message = ok_depth + std::string(JsonStreamSplitter::kMaxDepth, ']');
  EXPECT_EQ(split_all(ok_message, 100).size(), 1u);

  JsonStreamSplitter splitter;
  Messages messages;
  auto fed = splitter.feed(ok_depth + "[", messages);
  ASSERT_FALSE(fed.ok());
  EXPECT_NE(fed.error().message().find("deeper than"), std::string::npos);
}

// Random messages, random whitespace between them, random chunk boundaries: every message comes out
// whole and in order.
TEST(JsonStreamSplitter, RandomStreamsRoundTrip) {
  std::mt19937 random(20261123);
  const std::string alphabet = "ab{}[]\"\\:,/ \xc3\xa9\n";
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> sent;
    std::string stream;
    const int count = 1 + static_cast<int>(random() % 6);
    for (int i = 0; i < count; ++i) {
      std::string text;
      for (int n = static_cast<int>(random() % 12); n > 0; --n)
        text += alphabet[random() % alphabet.size()];
      nlohmann::json message = {
          {"id", i}, {"text", text}, {"nested", {{"list", {text, i, {{"k", text}}}}}}};
      if (random() % 3 == 0) message = nlohmann::json::array({message, text});
      sent.push_back(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      stream += sent.back();
      stream += std::string(random() % 3, ' ');
    }
    JsonStreamSplitter splitter;
    Messages messages;
    for (std::size_t i = 0; i < stream.size();) {
      const std::size_t chunk = 1 + random() % 9;
      ASSERT_TRUE(splitter.feed(std::string_view(stream).substr(i, chunk), messages).ok());
      i += chunk;
    }
    EXPECT_EQ(messages, sent) << stream;
  }
}

}  // namespace
}  // namespace ferry::ovs
