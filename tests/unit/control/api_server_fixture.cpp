#include "tests/unit/control/api_server_fixture.h"

#include <stdlib.h>

#include <chrono>

namespace ferry::test {

void ApiServerTest::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ferry-http-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  directory_ = pattern;
  socket_path_ = (directory_ / "agent.sock").string();
  work_.emplace(io_.get_executor());
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  if (listen_in_setup_) start_server();
}

void ApiServerTest::start_server() {
  server_.emplace(io_, handler_);
  auto listening = server_->listen_unix(socket_path_);
  ASSERT_TRUE(listening) << listening.error().message();
}

void ApiServerTest::TearDown() {
  if (server_) server_->stop();
  work_.reset();
  // With the server stopped and no work guard, the io threads run out of work unless a listener,
  // connection or timer was left behind.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!io_.stopped() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(io_.stopped()) << "stop() left a listener, connection or timer running";
  io_.stop();
  for (auto& thread : threads_) thread.join();
  server_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

}  // namespace ferry::test
