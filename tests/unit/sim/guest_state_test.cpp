#include "engine/vm/sim/guest_state.h"

#include <gtest/gtest.h>

#include "engine/vm/sim/byte_size.h"
#include "engine/vm/sim/line_buffer.h"

namespace ferry::sim {
namespace {

GuestState sample_state() {
  GuestState s;
  s.seed = 42;
  s.writes = 123456;
  s.pattern = WritePattern::hot;
  s.memory = 64 << 20;
  s.wss = 16 << 20;
  s.fill = 32 << 20;
  s.rate_mib = -1;
  return s;
}

TEST(GuestState, JsonRoundTrip) {
  const GuestState s = sample_state();
  auto back = GuestState::from_json(nlohmann::json::parse(s.to_json().dump()));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->seed, 42u);
  EXPECT_EQ(back->writes, 123456u);
  EXPECT_EQ(back->pattern, WritePattern::hot);
  EXPECT_EQ(back->memory, uint64_t{64} << 20);
  EXPECT_EQ(back->wss, uint64_t{16} << 20);
  EXPECT_EQ(back->fill, uint64_t{32} << 20);
  EXPECT_EQ(back->rate_mib, -1);
  const ContentModel m = back->model();
  EXPECT_EQ(m.memory_pages, 16384u);
  EXPECT_EQ(m.wss_pages, 4096u);
  EXPECT_EQ(m.fill_pages, 8192u);
}

TEST(GuestState, ContentTravelsAndDefaultsToRandom) {
  GuestState s = sample_state();
  s.content = PageContent::compressible;
  auto back = GuestState::from_json(s.to_json());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->content, PageContent::compressible);
  EXPECT_EQ(back->model().content, PageContent::compressible);
  auto older = s.to_json();
  older.erase("content");  // written before the field existed
  back = GuestState::from_json(older);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->content, PageContent::random);
  auto bad = s.to_json();
  bad["content"] = "zeros";
  auto refused = GuestState::from_json(bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("content"), std::string::npos);
}

TEST(GuestState, RejectsBrokenDocuments) {
  auto j = sample_state().to_json();
  auto without = [&](const char* key) {
    auto copy = j;
    copy.erase(key);
    return copy;
  };
  for (const char* key : {"seed", "writes", "pattern", "wss", "memory", "fill", "rate", "format"}) {
    auto r = GuestState::from_json(without(key));
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  }
  auto bad_pattern = j;
  bad_pattern["pattern"] = "zigzag";
  EXPECT_FALSE(GuestState::from_json(bad_pattern));
  auto negative_writes = j;
  negative_writes["writes"] = -5;
  EXPECT_FALSE(GuestState::from_json(negative_writes));
  auto wss_too_big = j;
  wss_too_big["wss"] = (128 << 20);
  auto r = GuestState::from_json(wss_too_big);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("working set"), std::string::npos) << r.error().message();
  auto unaligned = j;
  unaligned["memory"] = (64 << 20) + 1;
  EXPECT_FALSE(GuestState::from_json(unaligned));
  EXPECT_FALSE(GuestState::from_json(nlohmann::json::array()));
}

TEST(ByteSize, ParsesBinarySuffixes) {
  EXPECT_EQ(*parse_byte_size("4096"), 4096u);
  EXPECT_EQ(*parse_byte_size("4K"), 4096u);
  EXPECT_EQ(*parse_byte_size("64M"), uint64_t{64} << 20);
  EXPECT_EQ(*parse_byte_size("64MiB"), uint64_t{64} << 20);
  EXPECT_EQ(*parse_byte_size("1G"), uint64_t{1} << 30);
  EXPECT_EQ(*parse_byte_size("2T"), uint64_t{2} << 40);
  EXPECT_FALSE(parse_byte_size(""));
  EXPECT_FALSE(parse_byte_size("M"));
  EXPECT_FALSE(parse_byte_size("12X"));
  EXPECT_FALSE(parse_byte_size("-1G"));
  EXPECT_FALSE(parse_byte_size("99999999999999T"));
}

TEST(LineBuffer, SplitsLinesAcrossChunks) {
  LineBuffer b;
  b.append("{\"a\":1}\n{\"b\"");
  EXPECT_EQ(b.pop_line(), "{\"a\":1}");
  EXPECT_FALSE(b.pop_line());
  EXPECT_EQ(b.pending(), 4u);
  b.append(":2}\r\n");
  EXPECT_EQ(b.pop_line(), "{\"b\":2}");
  EXPECT_EQ(b.pending(), 0u);
}

}  // namespace
}  // namespace ferry::sim
