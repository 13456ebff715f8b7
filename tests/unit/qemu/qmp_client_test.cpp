// QmpClient against a real QEMU: greeting, commands, errors, events, descriptors, lost connection.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "engine/vm/qemu/child_process.h"
#include "engine/vm/qemu/qemu_command_line.h"
#include "engine/vm/qemu/qmp_client.h"
#include "tests/unit/qemu/qemu_test_support.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

class QmpClientTest : public QemuTest {
 protected:
  void SetUp() override {
    QemuTest::SetUp();
    FERRY_REQUIRE_QEMU();
    launch_ = guest_launch("qmp");
    std::filesystem::create_directories(launch_.run_dir);
    auto args = qemu_command_line(guest_spec("qmp-test", 32, "rate=0"), launch_,
                                  AcceleratorChoice{"tcg", "", "test"}, false);
    auto process = ChildProcess::spawn(args, {}, QemuRunFiles::in(launch_.run_dir).qemu_log);
    ASSERT_TRUE(process.ok()) << process.error().message();
    process_ = std::move(process).value();
    auto client = connect();
    ASSERT_TRUE(client.ok()) << client.error().message();
    client_ = std::move(client).value();
  }

  void TearDown() override {
    client_.reset();
    process_.reset();  // kills and reaps QEMU
    QemuTest::TearDown();
  }

  Result<std::unique_ptr<QmpClient>> connect() {
    QmpClient::Options options;
    options.peer_alive = [p = process_.get()] { return p->running(); };
    return QmpClient::connect(QemuRunFiles::in(launch_.run_dir).qmp_socket, options);
  }

  QemuLaunch launch_;
  std::unique_ptr<ChildProcess> process_;
  std::unique_ptr<QmpClient> client_;
};

TEST_F(QmpClientTest, ReadsGreetingAndQueriesStatus) {
  EXPECT_EQ(client_->greeting()["version"]["qemu"]["major"].get<int>(), 7);
  auto status = client_->execute("query-status");
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(status->at("status"), "prelaunch");  // started with -S
  EXPECT_FALSE(status->at("running").get<bool>());
}

TEST_F(QmpClientTest, ReportsQemuErrorsNamingTheCommand) {
  auto missing = client_->execute("no-such-command");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::rejected);
  EXPECT_NE(missing.error().message().find("'no-such-command'"), std::string::npos);
  EXPECT_NE(missing.error().message().find("CommandNotFound"), std::string::npos)
      << missing.error().message();

  auto bad_argument = client_->execute("query-status", {{"bogus", 1}});
  ASSERT_FALSE(bad_argument.ok());
  EXPECT_NE(bad_argument.error().message().find("GenericError"), std::string::npos);
  // The connection stays usable after errors.
  EXPECT_TRUE(client_->execute("query-status").ok());
}

TEST_F(QmpClientTest, CollectsEventsAfterStop) {
  ASSERT_TRUE(client_->execute("cont").ok());
  auto resumed = client_->wait_event("RESUME", 5s);
  ASSERT_TRUE(resumed.ok()) << resumed.error().message();
  ASSERT_TRUE(client_->execute("stop").ok());
  auto stopped = client_->wait_event("STOP", 5s);
  ASSERT_TRUE(stopped.ok()) << stopped.error().message();
  EXPECT_EQ(stopped->name, "STOP");
  EXPECT_TRUE(stopped->timestamp.contains("seconds"));
  // The queue held exactly those: waiting for another STOP times out, naming the event.
  auto none = client_->wait_event("STOP", 100ms);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), Errc::timeout);
  EXPECT_NE(none.error().message().find("'STOP'"), std::string::npos);
}

TEST_F(QmpClientTest, PassesDescriptorsWithScmRights) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto passed = client_->execute_with_fd("getfd", {{"fdname", "probe"}}, fds[1]);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(passed.ok()) << passed.error().message();
  // QEMU knows the name now: closefd succeeds once, then the name is gone.
  EXPECT_TRUE(client_->execute("closefd", {{"fdname", "probe"}}).ok());
  EXPECT_FALSE(client_->execute("closefd", {{"fdname", "probe"}}).ok());
  // Without a descriptor, getfd fails with QEMU's reason.
  auto without = client_->execute("getfd", {{"fdname", "probe"}});
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.error().message().find("SCM_RIGHTS"), std::string::npos)
      << without.error().message();
}

TEST_F(QmpClientTest, MatchesRepliesOfConcurrentCallers) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        // query-name echoes nothing of ours, so alternate with commands whose replies differ.
        auto reply =
            (i + t) % 2 ? client_->execute("query-status") : client_->execute("query-name");
        bool right = reply.ok() && ((i + t) % 2 ? reply->contains("status")
                                                : reply->value("name", "") == "qmp-test");
        if (!right) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(QmpClientTest, FailsPromptlyWhenQemuIsGone) {
  pid_t pid = process_->pid();
  process_->kill_and_reap();
  auto status = client_->execute("query-status", nlohmann::json::object(), 5s);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), Errc::connection_lost) << status.error().message();
  EXPECT_NE(status.error().message().find("'query-status'"), std::string::npos);
  EXPECT_FALSE(client_->connected());
  // Connecting to a QEMU that is gone gives up early instead of waiting for the deadline.
  auto start = std::chrono::steady_clock::now();
  auto again = connect();
  ASSERT_FALSE(again.ok()) << "pid " << pid;
  EXPECT_EQ(again.error().code(), Errc::unreachable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace ferry::test
