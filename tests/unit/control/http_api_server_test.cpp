// The agent API server, driven byte for byte over its unix socket: status codes, JSON shapes,
// keep-alive, limits, deadlines, streams and the socket file's life cycle.
#include "engine/control/http/http_api_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/unit/control/api_server_fixture.h"
#include "tests/unit/control/raw_http.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string get(std::string_view path) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
}

std::string post(std::string_view path, std::string_view body) {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// Waits until `value` stays the same for `quiet` (the producer stopped), up to `limit`.
int settled(const std::atomic<int>& value, std::chrono::milliseconds quiet,
            std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  int last = value.load();
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(quiet);
    int now = value.load();
    if (now == last) return now;
    last = now;
  }
  return -1;
}

TEST_F(ApiServerTest, AnswersWithJsonAndATrailingNewline) {
  std::string raw = send_and_read(socket_path_, get("/v1/vms"));
  EXPECT_EQ(status_of(raw), 200) << raw;
  EXPECT_TRUE(has_header(raw, "Content-Type", "application/json")) << raw;
  std::string body = body_of(raw);
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body.back(), '\n');
  EXPECT_EQ(json::parse(body), (json{{"vms", {"web-1", "db-1"}}}));
}

TEST_F(ApiServerTest, PassesMethodPathDecodedQueryAndBodyToTheHandler) {
  std::string raw = send_and_read(socket_path_, post("/v1/echo?name=web%2D1&note=a+b%20c&flag",
                                                     R"({"memory":"1G","cpus":[1,2]})"));
  ASSERT_EQ(status_of(raw), 200) << raw;
  json echoed = json::parse(body_of(raw));
  EXPECT_EQ(echoed["method"], "POST");
  EXPECT_EQ(echoed["path"], "/v1/echo");
  EXPECT_EQ(echoed["query"], (json{{"name", "web-1"}, {"note", "a b c"}, {"flag", ""}}));
  EXPECT_EQ(echoed["body"], (json{{"memory", "1G"}, {"cpus", {1, 2}}}));
}

TEST_F(ApiServerTest, EmptyBodyReachesTheHandlerAsNull) {
  std::string raw = send_and_read(socket_path_, get("/v1/echo"));
  ASSERT_EQ(status_of(raw), 200) << raw;
  EXPECT_TRUE(json::parse(body_of(raw))["body"].is_null());
}

TEST_F(ApiServerTest, InvalidJsonBodyIs400WithoutCallingTheHandler) {
  std::string raw = send_and_read(socket_path_, post("/v1/echo", "{\"memory\": "));
  EXPECT_EQ(status_of(raw), 400) << raw;
  json body = json::parse(body_of(raw));
  EXPECT_EQ(body["error"]["code"], "invalid_argument");
  std::string message = body["error"]["message"];
  EXPECT_NE(message.find("POST /v1/echo"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
  EXPECT_EQ(handler_.handle_calls, 0);
}

TEST_F(ApiServerTest, BadPercentEscapeInQueryIs400) {
  std::string raw = send_and_read(socket_path_, get("/v1/echo?name=%zz"));
  EXPECT_EQ(status_of(raw), 400) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "invalid_argument");
  EXPECT_EQ(handler_.handle_calls, 0);
}

TEST_F(ApiServerTest, HandlerStatusAndErrorBodyPassThrough) {
  std::string raw = send_and_read(socket_path_, get("/v1/missing"));
  EXPECT_EQ(status_of(raw), 404) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "not_found");
}

TEST_F(ApiServerTest, HandlerExceptionIs500WithTheErrorShape) {
  std::string raw = send_and_read(socket_path_, get("/v1/throw"));
  EXPECT_EQ(status_of(raw), 500) << raw;
  json body = json::parse(body_of(raw));
  EXPECT_EQ(body["error"]["code"], "internal");
  EXPECT_EQ(body["error"]["message"], "GET /v1/throw: boom");
}

TEST_F(ApiServerTest, InvalidStatusFromTheHandlerIs500) {
  std::string raw = send_and_read(socket_path_, get("/v1/bad-status"));
  EXPECT_EQ(status_of(raw), 500) << raw;
  std::string message = json::parse(body_of(raw))["error"]["message"];
  EXPECT_NE(message.find("invalid HTTP status 42"), std::string::npos) << message;
}

TEST_F(ApiServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  UniqueFd fd = connect_unix(socket_path_);
  ASSERT_TRUE(fd.valid());
  const std::string keep = "GET /v1/vms HTTP/1.1\r\nHost: localhost\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(write_all(fd.get(), keep));
    std::string raw = read_until(fd.get(), 5s, "}\n");
    EXPECT_EQ(status_of(raw), 200) << "request " << i << ": " << raw;
    EXPECT_FALSE(has_header(raw, "Connection", "close")) << raw;
  }
  // A pipelined pair, the second asking to close: both answered, then the server closes.
  ASSERT_TRUE(write_all(fd.get(), keep + get("/v1/missing")));
  std::string both = read_until(fd.get(), 5s);
  EXPECT_NE(both.find("HTTP/1.1 200"), std::string::npos) << both;
  EXPECT_NE(both.find("HTTP/1.1 404"), std::string::npos) << both;
  EXPECT_EQ(handler_.handle_calls, 5);
}

TEST_F(ApiServerTest, BodyOverOneMebibyteIs413) {
  // The header alone announces it; the server must refuse before reading 2 MiB.
  std::string raw = send_and_read(
      socket_path_, "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n");
  EXPECT_EQ(status_of(raw), 413) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "invalid_argument");
  EXPECT_EQ(handler_.handle_calls, 0);
}

TEST_F(ApiServerTest, BodyOfExactlyOneMebibyteIsAccepted) {
  std::string big = "\"" + std::string(HttpApiServer::kMaxBodyBytes - 2, 'x') + "\"";
  std::string raw = send_and_read(socket_path_, post("/v1/echo", big));
  ASSERT_EQ(status_of(raw), 200) << raw.substr(0, 200);
  EXPECT_EQ(json::parse(body_of(raw))["body"].get<std::string>().size(),
            HttpApiServer::kMaxBodyBytes - 2);
}

TEST_F(ApiServerTest, MalformedRequestIs400) {
  std::string raw = send_and_read(socket_path_, "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(status_of(raw), 400) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["error"]["code"], "invalid_argument");
}

TEST_F(ApiServerTest, AnswersExpectContinueBeforeTheBody) {
  UniqueFd fd = connect_unix(socket_path_);
  ASSERT_TRUE(fd.valid());
  const std::string body = R"({"a":1})";
  ASSERT_TRUE(write_all(fd.get(),
                        "POST /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        "Expect: 100-continue\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n"));
  std::string interim = read_until(fd.get(), 2s, "\r\n\r\n");
  EXPECT_EQ(status_of(interim), 100) << interim;
  ASSERT_TRUE(write_all(fd.get(), body));
  std::string raw = read_until(fd.get(), 5s);
  EXPECT_NE(raw.find("HTTP/1.1 200"), std::string::npos) << raw;
  EXPECT_NE(raw.find(R"("body":{"a":1})"), std::string::npos) << raw;
}

TEST_F(ApiServerTest, StreamIsChunkedNdjsonAndEndsWithTheLastChunk) {
  std::string raw = send_and_read(socket_path_, get("/v1/events"));
  EXPECT_EQ(status_of(raw), 200) << raw;
  EXPECT_TRUE(has_header(raw, "Content-Type", "application/x-ndjson")) << raw;
  EXPECT_TRUE(has_header(raw, "Transfer-Encoding", "chunked")) << raw;
  EXPECT_TRUE(has_header(raw, "Connection", "close")) << raw;
  std::string body = body_of(raw);
  for (int seq = 0; seq < 5; ++seq)
    EXPECT_NE(body.find("{\"seq\":" + std::to_string(seq) + "}\n"), std::string::npos) << body;
  EXPECT_TRUE(body.ends_with("0\r\n\r\n")) << body;
}

TEST_F(ApiServerTest, StreamPollFailureBecomesTheLastLine) {
  std::string body = body_of(send_and_read(socket_path_, get("/v1/stream-throws")));
  EXPECT_NE(body.find("{\"seq\":0}\n"), std::string::npos) << body;
  EXPECT_NE(body.find("stream failed: event source vanished"), std::string::npos) << body;
  EXPECT_TRUE(body.ends_with("0\r\n\r\n")) << body;
}

TEST_F(ApiServerTest, QuietStreamStopsPollingWhenTheClientLeaves) {
  {
    UniqueFd fd = connect_unix(socket_path_);
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(write_all(fd.get(), get("/v1/quiet")));
    std::string header = read_until(fd.get(), 2s, "\r\n\r\n");
    ASSERT_EQ(status_of(header), 200) << header;
    std::this_thread::sleep_for(500ms);
    EXPECT_GE(handler_.quiet_polls, 2);  // polled at once, then every 200 ms
  }                                      // the client closes without the stream ever writing a byte
  int polls = settled(handler_.quiet_polls, 500ms, 3s);
  EXPECT_GE(polls, 2) << "the server kept polling a stream nobody reads";
  std::string raw = send_and_read(socket_path_, get("/v1/vms"));
  EXPECT_EQ(status_of(raw), 200) << raw;
}

TEST_F(ApiServerTest, IdleConnectionIsClosedAfterTheDeadline) {
  server_->set_idle_timeout(300ms);  // applies to connections accepted from now on
  UniqueFd fd = connect_unix(socket_path_);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(write_all(fd.get(), "GET /v1/vms HTTP/1.1\r\n"));  // and never the rest
  auto start = std::chrono::steady_clock::now();
  std::string raw = read_until(fd.get(), 5s);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(raw.empty()) << raw;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3s) << "the idle connection was not closed";
}

TEST_F(ApiServerTest, SocketFileHasMode0660AndStopRemovesIt) {
  struct stat info {};
  ASSERT_EQ(::stat(socket_path_.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0660u);
  server_->stop();
  EXPECT_FALSE(std::filesystem::exists(socket_path_));
  EXPECT_FALSE(server_->listen_unix(socket_path_)) << "a stopped server must not listen again";
}

TEST_F(ApiServerTest, StopClosesOpenConnections) {
  UniqueFd fd = connect_unix(socket_path_);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(write_all(fd.get(), get("/v1/forever")));
  std::string first = read_until(fd.get(), 2s, "{\"seq\":0}\n");
  ASSERT_NE(first.find("{\"seq\":0}"), std::string::npos) << first;
  server_->stop();
  auto start = std::chrono::steady_clock::now();
  std::string rest = read_until(fd.get(), 5s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "stop() left the stream open";
  EXPECT_FALSE(rest.ends_with("0\r\n\r\n")) << "a stopped stream must not look finished";
  EXPECT_FALSE(connect_unix(socket_path_).valid());
}

TEST_F(ApiServerTest, TcpListenerServesTheSameApi) {
  auto listening = server_->listen_tcp("127.0.0.1:0");
  ASSERT_TRUE(listening) << listening.error().message();
  ASSERT_TRUE(server_->tcp_port().has_value());
  UniqueFd fd = connect_tcp_loopback(*server_->tcp_port());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(write_all(fd.get(), get("/v1/vms")));
  std::string raw = read_until(fd.get(), 5s);
  EXPECT_EQ(status_of(raw), 200) << raw;
  EXPECT_EQ(json::parse(body_of(raw))["vms"][0], "web-1");
}

TEST_F(ApiServerTest, TcpListenerRejectsABadAddress) {
  auto listening = server_->listen_tcp("no-port-here");
  ASSERT_FALSE(listening);
  EXPECT_EQ(listening.error().code(), Errc::invalid_argument);
  EXPECT_NE(listening.error().message().find("no-port-here"), std::string::npos);
}

class ApiServerListenTest : public ApiServerTest {
 protected:
  ApiServerListenTest() { listen_in_setup_ = false; }
};

TEST_F(ApiServerListenTest, ReplacesAStaleSocketFile) {
  {
    // What an agent that died leaves behind: a socket file nobody listens on.
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path_.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  }
  ASSERT_TRUE(std::filesystem::exists(socket_path_));
  start_server();
  EXPECT_EQ(status_of(send_and_read(socket_path_, get("/v1/vms"))), 200);
}

TEST_F(ApiServerListenTest, RefusesASocketAnotherServerListensOn) {
  start_server();
  HttpApiServer second(io_, handler_);
  auto listening = second.listen_unix(socket_path_);
  ASSERT_FALSE(listening);
  EXPECT_NE(listening.error().message().find("is listening there"), std::string::npos)
      << listening.error().message();
  second.stop();
  // The refused server must neither have taken the socket over nor removed it.
  EXPECT_EQ(status_of(send_and_read(socket_path_, get("/v1/vms"))), 200);
}

TEST_F(ApiServerListenTest, RefusesToReplaceARegularFile) {
  std::ofstream(socket_path_) << "not a socket\n";
  HttpApiServer server(io_, handler_);
  auto listening = server.listen_unix(socket_path_);
  ASSERT_FALSE(listening);
  EXPECT_EQ(listening.error().code(), Errc::invalid_argument);
  EXPECT_NE(listening.error().message().find(socket_path_), std::string::npos);
  std::ifstream kept(socket_path_);
  std::string line;
  std::getline(kept, line);
  EXPECT_EQ(line, "not a socket");
}

TEST_F(ApiServerListenTest, RefusesAPathTooLongForAUnixSocket) {
  HttpApiServer server(io_, handler_);
  auto listening = server.listen_unix("/tmp/" + std::string(200, 'a') + ".sock");
  ASSERT_FALSE(listening);
  EXPECT_EQ(listening.error().code(), Errc::invalid_argument);
}

TEST_F(ApiServerListenTest, NamesTheSocketWhenItsDirectoryIsMissing) {
  HttpApiServer server(io_, handler_);
  std::string path = (directory_ / "no-such-dir" / "agent.sock").string();
  auto listening = server.listen_unix(path);
  ASSERT_FALSE(listening);
  EXPECT_NE(listening.error().message().find(path), std::string::npos)
      << listening.error().message();
}

}  // namespace
}  // namespace ferry::test
