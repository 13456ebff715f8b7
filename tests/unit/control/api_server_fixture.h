// Test support: an HttpApiServer with a FakeApiHandler on a socket in a fresh temporary directory,
// its io_context run by two threads. TearDown checks that stop() lets every connection finish.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/control/http/http_api_server.h"
#include "tests/unit/control/fake_api_handler.h"

namespace ferry::test {

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Creates the server and listens on socket_path_ (SetUp does this unless listen_in_setup_ is
  // off).
  void start_server();

  bool listen_in_setup_ = true;
  std::filesystem::path directory_;
  std::string socket_path_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  FakeApiHandler handler_;
  std::optional<HttpApiServer> server_;
  std::vector<std::thread> threads_;
};

}  // namespace ferry::test
