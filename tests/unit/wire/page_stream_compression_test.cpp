// A sender and a receiver over a loopback TCP connection, with each compression mode: after every
// round the destination's memory equals the source's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <random>
#include <string>

#include "engine/migration/page_stream.h"
#include "engine/wire/hello.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kPages = 2048;  // 8 MiB
constexpr uint64_t kAllEncodings = wire::Capability::zero_pages | wire::Capability::raw_pages |
                                   wire::Capability::lz4 | wire::Capability::zstd |
                                   wire::Capability::delta;

std::string shm_path(const char* what) {
  return "/dev/shm/ferry-compress-test-" + std::to_string(::getpid()) + "-" + what;
}

// Fills a page like a guest's: a quarter zero, half text-like, a quarter random.
void fill_page(std::byte* page, uint64_t n, std::mt19937_64& rng) {
  switch (n % 4) {
    case 0:
      std::memset(page, 0, kPageSize);
      break;
    case 3:
      for (std::size_t i = 0; i < kPageSize; i += 8) {
        const uint64_t v = rng();
        std::memcpy(page + i, &v, 8);
      }
      break;
    default: {
      std::string text;
      while (text.size() < kPageSize)
        text += "pid " + std::to_string(rng() % 32768) + " state=running page " +
                std::to_string(n) + "\n";
      std::memcpy(page, text.data(), kPageSize);
    }
  }
}

struct Outcome {
  std::optional<Error> sender_error;
  std::vector<bool> rounds_equal;
  std::vector<wire::PageEncoding> encodings;  // the encoding each round used
  std::string explanation;
};

class PageStreamCompression : public ::testing::Test {
 protected:
  void SetUp() override {
    auto source = MappedRegion::create(shm_path("src"), kPages * kPageSize);
    ASSERT_TRUE(source.ok()) << source.error().message();
    source_.emplace(std::move(*source));
    auto destination = MappedRegion::create(shm_path("dst"), kPages * kPageSize);
    ASSERT_TRUE(destination.ok()) << destination.error().message();
    destination_.emplace(std::move(*destination));
    std::mt19937_64 rng(7);
    for (uint64_t p = 0; p < kPages; ++p) fill_page(source_->page(p), p, rng);
  }

  void TearDown() override {
    if (source_) (void)source_->unlink_file();
    if (destination_) (void)destination_->unlink_file();
  }

  // Round 0 sends everything; later rounds change a few bytes in a third of the pages and
  // rewrite a few pages entirely, then send those.
  Outcome run(CompressMode mode, uint64_t peer_capabilities, uint64_t bandwidth, int rounds) {
    asio::io_context io;
    tcp::acceptor acceptor(io);
    acceptor.open(tcp::v4());
    acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
    const auto port = acceptor.local_endpoint().port();
    StreamCounters destination_counters;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          auto socket = co_await acceptor.async_accept(asio::use_awaitable);
          auto connection =
              std::make_shared<RecordConnection>(std::move(socket), "data from test source");
          PageStreamReceiver receiver(connection, 0, 1, {{0, &*destination_, nullptr}},
                                      destination_counters, StreamTimeouts{5s});
          // Ends when the sender closes its connection.
          auto ended = co_await receiver.run(nullptr);
          if (!ended) receiver_end_ = ended.error();
          connection->close();
        },
        asio::detached);

    Outcome outcome;
    StreamCounters counters;
    RateLimiter limiter(bandwidth);
    std::atomic<bool> cancelled{false};
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          tcp::socket socket(io);
          boost::system::error_code ec;
          co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                        asio::redirect_error(asio::use_awaitable, ec));
          if (ec) {
            outcome.sender_error = Error(Errc::unreachable, ec.message());
            co_return;
          }
          auto connection =
              std::make_shared<RecordConnection>(std::move(socket), "data to test destination");
          PageStreamSender sender(connection, 0, 1, {{0, &*source_}}, counters, limiter, cancelled,
                                  StreamTimeouts{5s});
          sender.set_compression(mode, peer_capabilities);
          std::mt19937_64 rng(11);
          for (int round = 0; round < rounds; ++round) {
            std::vector<PageBitmap> dirty(1, PageBitmap(kPages));
            if (round == 0) {
              dirty[0].set_all();
            } else {
              for (uint64_t p = round % 3; p < kPages; p += 3) {
                source_->page(p)[rng() % kPageSize] = static_cast<std::byte>(rng());
                dirty[0].set(p);
              }
              for (uint64_t p = 1; p < kPages; p += 97) {
                fill_page(source_->page(p), p + round, rng);
                dirty[0].set(p);
              }
            }
            outcome.encodings.push_back(sender.encoding());
            auto sent = co_await sender.send_round(static_cast<uint32_t>(round), dirty);
            if (!sent) {
              outcome.sender_error = sent.error();
              break;
            }
            // FENCE_ACK came back: the receiver applied every page of the round.
            outcome.rounds_equal.push_back(
                std::memcmp(source_->data(), destination_->data(), kPages * kPageSize) == 0);
          }
          outcome.explanation = sender.compression_explanation();
          connection->close();
        },
        asio::detached);
    io.run();
    encoded_pages_ = counters.encoded_pages;
    received_encoded_pages_ = destination_counters.encoded_pages;
    return outcome;
  }

  void expect_all_rounds_equal(const Outcome& outcome, int rounds) {
    ASSERT_FALSE(outcome.sender_error) << outcome.sender_error->message();
    ASSERT_EQ(outcome.rounds_equal.size(), static_cast<std::size_t>(rounds));
    for (int r = 0; r < rounds; ++r) EXPECT_TRUE(outcome.rounds_equal[r]) << "round " << r;
    EXPECT_EQ(encoded_pages_, received_encoded_pages_);
  }

  std::optional<MappedRegion> source_;
  std::optional<MappedRegion> destination_;
  std::optional<Error> receiver_end_;
  uint64_t encoded_pages_ = 0;
  uint64_t received_encoded_pages_ = 0;
};

TEST_F(PageStreamCompression, NoneSendsRaw) {
  const auto outcome = run(CompressMode::none, kAllEncodings, 0, 3);
  expect_all_rounds_equal(outcome, 3);
  EXPECT_EQ(encoded_pages_, 0u);
}

TEST_F(PageStreamCompression, Lz4) {
  const auto outcome = run(CompressMode::lz4, kAllEncodings, 0, 3);
  expect_all_rounds_equal(outcome, 3);
  EXPECT_GT(encoded_pages_, kPages / 3);
  EXPECT_EQ(outcome.encodings[0], wire::PageEncoding::lz4);
}

TEST_F(PageStreamCompression, Zstd) {
  const auto outcome = run(CompressMode::zstd, kAllEncodings, 0, 3);
  expect_all_rounds_equal(outcome, 3);
  EXPECT_GT(encoded_pages_, kPages / 3);
}

TEST_F(PageStreamCompression, DeltaAfterTheFirstRound) {
  const auto outcome = run(CompressMode::delta, kAllEncodings, 0, 4);
  expect_all_rounds_equal(outcome, 4);
  // Rounds 1..3 change one byte in a third of the pages each: nearly all of them go as deltas.
  EXPECT_GT(encoded_pages_, kPages / 3 * 3 * 9 / 10);
}

TEST_F(PageStreamCompression, AutoOnAFastLinkStaysRaw) {
  const auto outcome = run(CompressMode::automatic, kAllEncodings, 0, 3);
  expect_all_rounds_equal(outcome, 3);
  EXPECT_NE(outcome.explanation.find("auto: "), std::string::npos);
}

TEST_F(PageStreamCompression, AutoCompressesOnASlowLink) {
  // 20 MB/s: the 8 MiB first round waits on the rate limiter most of the time.
  const auto outcome = run(CompressMode::automatic, kAllEncodings, 20'000'000, 3);
  expect_all_rounds_equal(outcome, 3);
  ASSERT_EQ(outcome.encodings.size(), 3u);
  EXPECT_EQ(outcome.encodings[0], wire::PageEncoding::raw);
  EXPECT_NE(outcome.encodings[1], wire::PageEncoding::raw) << outcome.explanation;
  EXPECT_GT(encoded_pages_, 0u);
  EXPECT_NE(outcome.explanation.find("link bound"), std::string::npos) << outcome.explanation;
}

TEST_F(PageStreamCompression, OnlyWhatThePeerAnnouncedIsUsed) {
  const uint64_t raw_only = wire::Capability::zero_pages | wire::Capability::raw_pages;
  const auto outcome = run(CompressMode::zstd, raw_only, 0, 2);
  expect_all_rounds_equal(outcome, 2);
  EXPECT_EQ(encoded_pages_, 0u);
  EXPECT_EQ(outcome.encodings[0], wire::PageEncoding::raw);
  EXPECT_NE(outcome.explanation.find("did not announce"), std::string::npos) << outcome.explanation;
}

}  // namespace
}  // namespace ferry
