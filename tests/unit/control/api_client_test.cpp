// The CLI's ApiClient against the real HttpApiServer (and, for broken answers, a raw fake agent).
#include "apps/ferry/api_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/control/api_server_fixture.h"
#include "tests/unit/control/raw_http.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

TEST_F(ApiServerTest, ClientGetsJson) {
  ApiClient client(socket_path_);
  auto reply = client.call("GET", "/v1/vms");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, (json{{"vms", {"web-1", "db-1"}}}));
}

TEST_F(ApiServerTest, ClientPostsJsonAndGetsItBack) {
  ApiClient client(socket_path_);
  json sent = {{"kind", "sim"}, {"spec", {{"memory", "64M"}, {"rate", 0}, {"name", "wéb-1"}}}};
  auto reply = client.call("POST", "/v1/echo?dry%20run=yes", sent);
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body["method"], "POST");
  EXPECT_EQ(reply->body["body"], sent);
  EXPECT_EQ(reply->body["query"], (json{{"dry run", "yes"}}));
}

TEST_F(ApiServerTest, ClientSendsOtherMethods) {
  ApiClient client(socket_path_);
  for (std::string method : {"DELETE", "PUT", "PATCH"}) {
    auto reply = client.call(method, "/v1/echo");
    ASSERT_TRUE(reply) << reply.error().message();
    EXPECT_EQ(reply->body["method"], method);
    EXPECT_TRUE(reply->body["body"].is_null());
  }
}

TEST_F(ApiServerTest, ClientPassesA404Through) {
  ApiClient client(socket_path_);
  auto reply = client.call("GET", "/v1/missing");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(reply->body["error"]["code"], "not_found");
}

TEST_F(ApiServerTest, ClientTimesOutOnASlowAgent) {
  ApiClient client(socket_path_, 100ms);
  auto start = Clock::now();
  auto reply = client.call("GET", "/v1/slow");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Errc::timeout);
  EXPECT_NE(reply.error().message().find("GET /v1/slow"), std::string::npos)
      << reply.error().message();
  EXPECT_LT(Clock::now() - start, 450ms);
}

TEST_F(ApiServerTest, ClientReceivesStreamLinesAsTheyArrive) {
  ApiClient client(socket_path_);
  std::vector<int> seqs;
  std::vector<Clock::time_point> arrivals;
  auto start = Clock::now();
  auto streamed = client.stream("/v1/events", [&](const json& event) {
    seqs.push_back(event["seq"].get<int>());
    arrivals.push_back(Clock::now());
    return true;
  });
  auto took = Clock::now() - start;
  ASSERT_TRUE(streamed) << streamed.error().message();
  EXPECT_EQ(seqs, (std::vector<int>{0, 1, 2, 3, 4}));
  ASSERT_EQ(arrivals.size(), 5u);
  // Polled at once and then every 200 ms: the lines come spread over ~0.8 s, not in one lump.
  EXPECT_GE(arrivals.back() - arrivals.front(), 600ms);
  int spaced_gaps = 0;  // a busy machine may delay the reader so that two lines land together
  for (size_t i = 1; i < arrivals.size(); ++i)
    spaced_gaps += arrivals[i] - arrivals[i - 1] >= 100ms;
  EXPECT_GE(spaced_gaps, 3);
  EXPECT_LT(took, 3s) << "the client did not return when the stream finished";
}

TEST_F(ApiServerTest, ClientLeavingMidStreamDoesNotHurtTheServer) {
  ApiClient client(socket_path_);
  int lines = 0;
  auto streamed = client.stream("/v1/forever", [&](const json&) { return ++lines < 2; });
  ASSERT_TRUE(streamed) << streamed.error().message();
  EXPECT_EQ(lines, 2);
  // The server notices the client left (on its next write or sooner) and stops polling.
  int polls = [&] {
    for (int attempt = 0; attempt < 10; ++attempt) {
      int before = handler_.forever_polls;
      std::this_thread::sleep_for(500ms);
      if (handler_.forever_polls == before) return before;
    }
    return -1;
  }();
  EXPECT_GE(polls, 2) << "the server kept polling a stream nobody reads";
  auto reply = client.call("GET", "/v1/vms");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 200);
}

TEST_F(ApiServerTest, ClientStreamOfAnErrorEndpointReturnsItsError) {
  ApiClient client(socket_path_);
  bool called = false;
  auto streamed = client.stream("/v1/missing", [&](const json&) { return called = true; });
  ASSERT_FALSE(streamed);
  EXPECT_FALSE(called);
  EXPECT_EQ(streamed.error().code(), Errc::not_found);
  EXPECT_NE(streamed.error().message().find("GET /v1/missing (HTTP 404)"), std::string::npos)
      << streamed.error().message();
}

TEST_F(ApiServerTest, ClientStreamReportsAnAgentThatStopsMidStream) {
  ApiClient client(socket_path_);
  int lines = 0;
  auto streamed = client.stream("/v1/forever", [&](const json&) {
    if (++lines == 2) server_->stop();
    return true;
  });
  ASSERT_FALSE(streamed);
  EXPECT_EQ(streamed.error().code(), Errc::connection_lost) << streamed.error().message();
  EXPECT_NE(streamed.error().message().find("GET /v1/forever"), std::string::npos)
      << streamed.error().message();
}

TEST_F(ApiServerTest, ClientReportsAMissingAgent) {
  server_->stop();
  ApiClient client(socket_path_);
  auto reply = client.call("GET", "/v1/vms");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Errc::unreachable);
  EXPECT_EQ(reply.error().message(),
            "no agent at " + socket_path_ + " (is `ferry agent` running with this --state-dir?)");
  auto streamed = client.stream("/v1/events", [](const json&) { return true; });
  ASSERT_FALSE(streamed);
  EXPECT_EQ(streamed.error().code(), Errc::unreachable);
}

TEST_F(ApiServerTest, ClientReportsAStaleSocketAsNoAgent) {
  server_->stop();
  UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path_.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  stale.reset();
  auto reply = ApiClient(socket_path_).call("GET", "/v1/vms");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Errc::unreachable);
  EXPECT_NE(reply.error().message().find("no agent at " + socket_path_), std::string::npos);
}

// A fake agent that answers every connection with the same raw bytes, then closes.
class RawAgent {
 public:
  RawAgent(const std::string& path, std::string answer) : answer_(std::move(answer)) {
    listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    bound_ = ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
             ::listen(listener_.get(), 4) == 0;
    path_ = path;
    if (bound_) thread_ = std::thread([this] { serve_one(); });
  }
  ~RawAgent() {
    if (thread_.joinable()) thread_.join();
    ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }

 private:
  void serve_one() {
    UniqueFd client(::accept(listener_.get(), nullptr, nullptr));
    if (!client.valid()) return;
    read_until(client.get(), 2s, "\r\n\r\n");
    write_all(client.get(), answer_);
  }

  std::string answer_;
  std::string path_;
  UniqueFd listener_;
  bool bound_ = false;
  std::thread thread_;
};

class ApiClientRawTest : public ApiServerTest {
 protected:
  ApiClientRawTest() { listen_in_setup_ = false; }
};

TEST_F(ApiClientRawTest, NonJsonBodyIsAProtocolErrorNamingThePath) {
  RawAgent agent(socket_path_,
                 "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, world");
  ASSERT_TRUE(agent.bound());
  auto reply = ApiClient(socket_path_).call("GET", "/v1/vms");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Errc::protocol);
  EXPECT_NE(reply.error().message().find("GET /v1/vms"), std::string::npos)
      << reply.error().message();
  EXPECT_NE(reply.error().message().find("hello, world"), std::string::npos)
      << reply.error().message();
}

TEST_F(ApiClientRawTest, NonJsonStreamLineIsAProtocolError) {
  RawAgent agent(
      socket_path_,
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
      "{\"seq\":0}\nnot json\n");
  ASSERT_TRUE(agent.bound());
  int lines = 0;
  auto streamed = ApiClient(socket_path_).stream("/v1/events", [&](const json&) {
    ++lines;
    return true;
  });
  ASSERT_FALSE(streamed);
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(streamed.error().code(), Errc::protocol);
  EXPECT_NE(streamed.error().message().find("line 2"), std::string::npos)
      << streamed.error().message();
}

TEST_F(ApiClientRawTest, CloseDelimitedStreamEndsCleanly) {
  // A stream delimited by closing the connection (not chunked) is complete when the agent closes.
  RawAgent agent(
      socket_path_,
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
      "{\"seq\":0}\n{\"seq\":1}\n{\"seq\":2}");
  ASSERT_TRUE(agent.bound());
  std::vector<int> seqs;
  auto streamed = ApiClient(socket_path_).stream("/v1/events", [&](const json& event) {
    seqs.push_back(event["seq"]);
    return true;
  });
  ASSERT_TRUE(streamed) << streamed.error().message();
  EXPECT_EQ(seqs, (std::vector<int>{0, 1, 2}));
}

TEST_F(ApiClientRawTest, AgentThatClosesWithoutAnswerIsConnectionLost) {
  RawAgent agent(socket_path_, "");
  ASSERT_TRUE(agent.bound());
  auto reply = ApiClient(socket_path_).call("POST", "/v1/migrations", json{{"vm", "web-1"}});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Errc::connection_lost);
  EXPECT_NE(reply.error().message().find("POST /v1/migrations"), std::string::npos)
      << reply.error().message();
}

}  // namespace
}  // namespace ferry::test
