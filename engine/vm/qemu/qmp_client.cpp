#include "engine/vm/qemu/qmp_client.h"

// Boost 1.74's Asio coroutines need <utility> before <boost/asio.hpp> with g++ 12.
#include <utility>

#include <boost/asio.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "engine/posix/unique_fd.h"
#include "engine/vm/qemu/unix_socket.h"

namespace ferry {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

// QMP lines are small; a runaway line means a broken peer, not a large reply.
constexpr std::size_t kMaxLineBytes = 64 << 20;

struct Outgoing {
  uint64_t id = 0;
  std::string bytes;
  UniqueFd fd;  // sent with the first byte when valid
};

}  // namespace

struct QmpClient::Impl {
  struct Pending {
    std::string command;
    std::optional<Result<nlohmann::json>> result;
  };

  std::string path;
  Options options;
  asio::io_context io;
  asio::local::stream_protocol::socket socket{io};
  asio::steady_timer writer_wake{io};
  std::deque<Outgoing> outbox;  // touched on the io thread only
  bool closing = false;         // io thread only
  std::thread thread;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::map<uint64_t, Pending> pending;
  std::deque<QmpEvent> events;
  std::optional<nlohmann::json> greeting;
  std::optional<Error> failure;  // set once; the connection is unusable from then on
  uint64_t next_id = 1;

  // Fails every waiting command with `error` and refuses new ones.
  void fail(Error error) {
    std::lock_guard lock(mutex);
    if (failure) return;
    for (auto& [id, entry] : pending) {
      if (!entry.result) {
        entry.result.emplace(Error(
            error.code(), fmt::format("QMP command '{}': {}", entry.command, error.message())));
      }
    }
    failure = std::move(error);
    changed.notify_all();
  }

  // Returns false when the line breaks the protocol; the connection is then failed.
  bool dispatch(const std::string& line) {
    try {
      if (route(line)) return true;
      fail(Error(
          Errc::protocol,
          fmt::format("QMP socket {}: a line that is not a JSON object: {:.200}", path, line)));
      return false;
    } catch (const nlohmann::json::exception& e) {
      // A member of an unexpected type (e.g. "error" that is not an object).
      fail(Error(Errc::protocol, fmt::format("QMP socket {}: malformed message ({}): {:.200}", path,
                                             e.what(), line)));
      return false;
    }
  }

  // Files a greeting, event or reply; false when the line is not a JSON object.
  bool route(const std::string& line) {
    auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded() || !message.is_object()) return false;
    std::lock_guard lock(mutex);
    if (message.contains("QMP")) {
      greeting = message["QMP"];
    } else if (message.contains("event")) {
      QmpEvent event{message["event"].is_string() ? message["event"].get<std::string>() : "",
                     message.value("data", nlohmann::json()),
                     message.value("timestamp", nlohmann::json())};
      events.push_back(std::move(event));
      while (events.size() > options.max_events) events.pop_front();
    } else if (message.contains("id") && message["id"].is_number_unsigned()) {
      auto it = pending.find(message["id"].get<uint64_t>());
      if (it == pending.end()) return true;  // its caller gave up waiting
      Pending& entry = it->second;
      if (message.contains("return")) {
        entry.result.emplace(message["return"]);
      } else {
        const auto& error = message.value("error", nlohmann::json::object());
        entry.result.emplace(
            Error(Errc::rejected, fmt::format("QMP command '{}' failed: {}: {}", entry.command,
                                              error.value("class", "UnknownError"),
                                              error.value("desc", "(no description)"))));
      }
    } else {
      return true;  // a reply without our id (to a line QEMU could not parse): nobody waits
    }
    changed.notify_all();
    return true;
  }

  awaitable<void> read_loop() {
    std::string buffer;
    for (;;) {
      boost::system::error_code ec;
      std::size_t n =
          co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer, kMaxLineBytes), '\n',
                                          asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::eof) {
          fail(Error(Errc::connection_lost, fmt::format("QEMU closed the QMP socket {}", path)));
        } else if (ec == asio::error::operation_aborted) {
          fail(Error(Errc::connection_lost, fmt::format("QMP socket {} was closed", path)));
        } else {
          fail(Error(Errc::connection_lost,
                     fmt::format("reading QMP socket {}: {}", path, ec.message())));
        }
        co_return;
      }
      std::string line = buffer.substr(0, n);
      buffer.erase(0, n);
      if (!dispatch(line)) co_return;
    }
  }

  // Sends the first part of `message` with its descriptor attached; returns the bytes sent.
  awaitable<std::size_t> send_with_fd(const Outgoing& message, boost::system::error_code& ec) {
    for (;;) {
      iovec iov{const_cast<char*>(message.bytes.data()), message.bytes.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr header{};
      header.msg_iov = &iov;
      header.msg_iovlen = 1;
      header.msg_control = control;
      header.msg_controllen = sizeof(control);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int));
      int fd = message.fd.get();
      std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
      ssize_t sent = ::sendmsg(socket.native_handle(), &header, MSG_NOSIGNAL);
      if (sent >= 0) co_return static_cast<std::size_t>(sent);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ec.assign(errno, boost::system::system_category());
        co_return 0;
      }
      co_await socket.async_wait(asio::socket_base::wait_write,
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) co_return 0;
    }
  }

  awaitable<void> write_loop() {
    for (;;) {
      while (!outbox.empty()) {
        Outgoing message = std::move(outbox.front());
        outbox.pop_front();
        boost::system::error_code ec;
        std::size_t offset = 0;
        if (message.fd.valid()) offset = co_await send_with_fd(message, ec);
        if (!ec && offset < message.bytes.size()) {
          co_await asio::async_write(
              socket, asio::buffer(message.bytes.data() + offset, message.bytes.size() - offset),
              asio::redirect_error(use_awaitable, ec));
        }
        if (ec) {
          fail(Error(Errc::connection_lost,
                     fmt::format("writing QMP socket {}: {}", path, ec.message())));
          co_return;
        }
      }
      if (closing) co_return;
      writer_wake.expires_at(Clock::time_point::max());
      boost::system::error_code ignored;
      co_await writer_wake.async_wait(asio::redirect_error(use_awaitable, ignored));
      if (closing) co_return;
    }
  }

  void start(UniqueFd fd) {
    socket.assign(asio::local::stream_protocol(), fd.release());
    socket.non_blocking(true);
    asio::co_spawn(io, read_loop(), asio::detached);
    asio::co_spawn(io, write_loop(), asio::detached);
    thread = std::thread([this] { io.run(); });
  }

  void shutdown() {
    if (!thread.joinable()) return;
    asio::post(io, [this] {
      closing = true;
      boost::system::error_code ignored;
      socket.close(ignored);
      writer_wake.cancel();
    });
    thread.join();
    fail(Error(Errc::connection_lost, fmt::format("QMP socket {} was closed", path)));
  }

  Result<nlohmann::json> execute(std::string_view command, const nlohmann::json& arguments,
                                 UniqueFd fd, std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) timeout = options.command_timeout;
    uint64_t id;
    {
      std::lock_guard lock(mutex);
      if (failure) {
        return Error(failure->code(),
                     fmt::format("QMP command '{}': {}", command, failure->message()));
      }
      id = next_id++;
      pending.emplace(id, Pending{std::string(command), std::nullopt});
    }
    nlohmann::json message = {{"execute", command}, {"id", id}};
    if (!arguments.is_null() && !(arguments.is_object() && arguments.empty())) {
      message["arguments"] = arguments;
    }
    Outgoing outgoing{id, message.dump() + "\n", std::move(fd)};
    asio::post(io, [this, outgoing = std::make_shared<Outgoing>(std::move(outgoing))] {
      if (closing) return;
      outbox.push_back(std::move(*outgoing));
      writer_wake.cancel();
    });

    std::unique_lock lock(mutex);
    auto entry = pending.find(id);
    bool answered = changed.wait_until(lock, Clock::now() + timeout,
                                       [&] { return entry->second.result.has_value(); });
    std::optional<Result<nlohmann::json>> result = std::move(entry->second.result);
    pending.erase(entry);
    if (!answered) {
      return Error(Errc::timeout, fmt::format("QMP command '{}' on {}: no reply within {} ms",
                                              command, path, timeout.count()));
    }
    return std::move(*result);
  }
};

QmpClient::QmpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

QmpClient::~QmpClient() {
  close();
}

Result<std::unique_ptr<QmpClient>> QmpClient::connect(const std::string& socket_path,
                                                      Options options) {
  auto impl = std::make_unique<Impl>();
  impl->path = socket_path;
  impl->options = std::move(options);
  const auto deadline = Clock::now() + impl->options.connect_timeout;

  Result<UniqueFd> fd =
      connect_unix_socket_with_retry(socket_path, "QMP socket " + socket_path,
                                     impl->options.connect_timeout, impl->options.peer_alive);
  if (!fd) return std::move(fd).error();

  std::unique_ptr<QmpClient> client(new QmpClient(std::move(impl)));
  Impl& self = *client->impl_;
  self.start(std::move(fd).value());
  {
    std::unique_lock lock(self.mutex);
    if (!self.changed.wait_until(lock, deadline, [&] { return self.greeting || self.failure; })) {
      return Error(Errc::timeout, fmt::format("QMP socket {}: no greeting within {} ms",
                                              socket_path, self.options.connect_timeout.count()));
    }
    if (!self.greeting) return Error(*self.failure).within("waiting for the QMP greeting");
  }
  auto negotiated = client->execute("qmp_capabilities");
  if (!negotiated) return std::move(negotiated).error();
  return client;
}

const std::string& QmpClient::socket_path() const {
  return impl_->path;
}

const nlohmann::json& QmpClient::greeting() const {
  std::lock_guard lock(impl_->mutex);
  return *impl_->greeting;  // set before connect() returns, never changed afterwards
}

Result<nlohmann::json> QmpClient::execute(std::string_view command, const nlohmann::json& arguments,
                                          std::chrono::milliseconds timeout) {
  return impl_->execute(command, arguments, UniqueFd(), timeout);
}

Result<nlohmann::json> QmpClient::execute_with_fd(std::string_view command,
                                                  const nlohmann::json& arguments, int fd,
                                                  std::chrono::milliseconds timeout) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) {
    return errno_error(fmt::format("QMP command '{}': duplicate descriptor {}", command, fd));
  }
  return impl_->execute(command, arguments, std::move(copy), timeout);
}

Result<QmpEvent> QmpClient::wait_event(std::string_view name, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    for (auto it = impl_->events.begin(); it != impl_->events.end(); ++it) {
      if (it->name == name) {
        QmpEvent event = std::move(*it);
        impl_->events.erase(it);
        return event;
      }
    }
    if (impl_->failure) {
      return Error(impl_->failure->code(),
                   fmt::format("waiting for QMP event '{}': {}", name, impl_->failure->message()));
    }
    if (impl_->changed.wait_until(lock, deadline) == std::cv_status::timeout) {
      return Error(Errc::timeout, fmt::format("no QMP event '{}' on {} within {} ms", name,
                                              impl_->path, timeout.count()));
    }
  }
}

std::vector<QmpEvent> QmpClient::take_events() {
  std::lock_guard lock(impl_->mutex);
  std::vector<QmpEvent> taken(std::make_move_iterator(impl_->events.begin()),
                              std::make_move_iterator(impl_->events.end()));
  impl_->events.clear();
  return taken;
}

bool QmpClient::connected() const {
  std::lock_guard lock(impl_->mutex);
  return !impl_->failure.has_value();
}

void QmpClient::close() {
  if (impl_) impl_->shutdown();
}

}  // namespace ferry
