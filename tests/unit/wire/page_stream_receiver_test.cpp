// PageStreamReceiver against hand-made PAGES records over loopback TCP: data read straight into
// guest memory lands where it should, a page repeated inside a record keeps the later entry, and
// a corrupt record is reported as a checksum error wherever the flipped byte is.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "engine/migration/page_stream.h"
#include "engine/wire/little_endian.h"
#include "engine/wire/page_codec.h"
#include "engine/wire/pages.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

constexpr uint64_t kPages = 1024;  // two stream chunks of 512 pages

Bytes page_of(uint8_t seed) {
  Bytes page(kPageSize);
  for (std::size_t i = 0; i < kPageSize; ++i) page[i] = static_cast<std::byte>(seed + i * 31);
  return page;
}

Bytes text_page() {
  std::string text;
  while (text.size() < kPageSize) text += "state=running pid=4711 ";
  Bytes page(kPageSize);
  std::memcpy(page.data(), text.data(), kPageSize);
  return page;
}

Bytes record_of(wire::PagesBuilder& builder) {
  auto record = builder.record();
  return Bytes(record.begin(), record.end());
}

class PageStreamReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = "/dev/shm/ferry-receiver-test-" + std::to_string(::getpid());
    auto region = MappedRegion::create(path_, kPages * kPageSize);
    ASSERT_TRUE(region.ok()) << region.error().message();
    memory_.emplace(std::move(*region));
    std::memset(memory_->data(), 0xEE, kPages * kPageSize);  // not what any record carries
  }
  void TearDown() override {
    if (memory_) (void)memory_->unlink_file();
  }

  // Sends `records` to a receiver that is stream `index` of `count`; returns the error that ended
  // its run() (the end of the connection when every record was fine).
  Error receive(const std::vector<Bytes>& records, uint32_t index = 0, uint32_t count = 1) {
    asio::io_context io;
    tcp::acceptor acceptor(io);
    acceptor.open(tcp::v4());
    acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
    const auto port = acceptor.local_endpoint().port();
    std::optional<Error> ended;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          auto socket = co_await acceptor.async_accept(asio::use_awaitable);
          auto connection = std::make_shared<RecordConnection>(std::move(socket), "data from test");
          PageStreamReceiver receiver(connection, index, count, {{0, &*memory_, nullptr}},
                                      counters_, StreamTimeouts{5s});
          auto result = co_await receiver.run(nullptr);
          ended = result ? Error(Errc::internal, "run() ended without an error") : result.error();
          connection->close();
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          tcp::socket socket(io);
          co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                        asio::use_awaitable);
          auto connection = std::make_shared<RecordConnection>(std::move(socket), "data to test");
          for (const Bytes& record : records) {
            auto written = co_await connection->write_framed(record, 5s);
            if (!written) break;  // the receiver gave up
          }
          connection->close();
        },
        asio::detached);
    io.run();
    return ended.value_or(Error(Errc::internal, "receiver did not run"));
  }

  bool page_equals(uint64_t page, const Bytes& content) const {
    return std::memcmp(memory_->page(page), content.data(), kPageSize) == 0;
  }

  std::string path_;
  std::optional<MappedRegion> memory_;
  StreamCounters counters_;
};

TEST_F(PageStreamReceiverTest, EveryEncodingLandsInGuestMemory) {
  wire::PagesBuilder b;
  b.reset(0);
  const Bytes raw = page_of(1), text = text_page();
  b.add_raw(3, raw.data());
  b.add_zero(4);
  wire::PageCompressor compressor;
  Bytes encoded(wire::kMaxEncodedPageBytes);
  const std::size_t n = compressor.compress(wire::PageEncoding::lz4, text.data(), encoded);
  ASSERT_GT(n, 0u);
  b.add_encoded(5, wire::PageEncoding::lz4, std::span(encoded).first(n));
  b.add_raw(6, raw.data());
  const Error end = receive({record_of(b)});
  // The sender closed the connection: the only way this run() ends.
  EXPECT_NE(end.message().find("connection closed by peer"), std::string::npos) << end.message();
  EXPECT_TRUE(page_equals(3, raw));
  EXPECT_TRUE(page_equals(4, Bytes(kPageSize)));
  EXPECT_TRUE(page_equals(5, text));
  EXPECT_TRUE(page_equals(6, raw));
  EXPECT_TRUE(page_equals(7, Bytes(kPageSize, std::byte{0xEE})));  // untouched
  EXPECT_EQ(counters_.normal_pages, 3u);
  EXPECT_EQ(counters_.zero_pages, 1u);
  EXPECT_EQ(counters_.encoded_pages, 1u);
}

TEST_F(PageStreamReceiverTest, APageTwiceInARecordKeepsTheLaterEntry) {
  wire::PagesBuilder b;
  b.reset(0);
  const Bytes first = page_of(1), second = page_of(2);
  b.add_raw(7, first.data());
  b.add_zero(7);
  b.add_zero(8);
  b.add_raw(8, first.data());
  b.add_raw(8, second.data());
  receive({record_of(b)});
  EXPECT_TRUE(page_equals(7, Bytes(kPageSize)));
  EXPECT_TRUE(page_equals(8, second));
}

TEST_F(PageStreamReceiverTest, AFlippedByteAnywhereIsACrcError) {
  wire::PagesBuilder b;
  b.reset(0);
  const Bytes raw = page_of(3);
  for (uint64_t p = 0; p < 4; ++p) b.add_raw(p, raw.data());
  const Bytes good = record_of(b);
  // In the table (page number, encoding) and in the data of the first and the last page.
  for (std::size_t at : {wire::kHeaderSize + 8 + 1, wire::kHeaderSize + 8 + 16 + 8,
                         wire::kHeaderSize + 8 + 4 * 16 + 100, good.size() - 1}) {
    Bytes bad = good;
    bad[at] ^= std::byte{0x01};
    const Error end = receive({bad});
    EXPECT_EQ(end.code(), Errc::corrupt) << at << ": " << end.message();
    EXPECT_NE(end.message().find("CRC"), std::string::npos) << at << ": " << end.message();
  }
}

TEST_F(PageStreamReceiverTest, ACorruptTableNamingAnotherStreamsPageIsACrcError) {
  wire::PagesBuilder b;
  b.reset(0);
  const Bytes raw = page_of(4);
  b.add_raw(1, raw.data());
  Bytes bad = record_of(b);
  wire::store_le64(bad.data() + wire::kHeaderSize + 8, 513);  // stream 1's chunk
  const Error end = receive({bad}, 0, 2);
  EXPECT_EQ(end.code(), Errc::corrupt) << end.message();
  EXPECT_NE(end.message().find("CRC"), std::string::npos) << end.message();
}

TEST_F(PageStreamReceiverTest, AnotherStreamsPageInAValidRecordIsAProtocolError) {
  wire::PagesBuilder b;
  b.reset(0);
  const Bytes raw = page_of(5);
  b.add_raw(513, raw.data());
  const Error end = receive({record_of(b)}, 0, 2);
  EXPECT_EQ(end.code(), Errc::protocol) << end.message();
  EXPECT_NE(end.message().find("belongs to stream 1"), std::string::npos) << end.message();
  EXPECT_TRUE(page_equals(513, Bytes(kPageSize, std::byte{0xEE})));
}

}  // namespace
}  // namespace ferry
