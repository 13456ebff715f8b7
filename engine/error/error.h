// Errors as values at module boundaries: every failure says what went wrong and where.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ferry {

// Stable machine-readable codes; the API and the exit codes of the CLI derive from them.
enum class Errc {
  invalid_argument,  // bad input from a caller or a configuration file
  io,                // a system call failed (the message carries errno text)
  timeout,           // an operation did not finish within its deadline
  connection_lost,   // the peer closed or reset a connection
  unreachable,       // could not connect to the peer
  protocol,          // the peer sent something the protocol does not allow
  corrupt,           // a record failed its checksum or bounds checks
  version_mismatch,  // no common protocol version
  rejected,          // the destination refused the migration
  peer_abort,        // the peer aborted the job
  no_space,          // a file or memory could not be allocated
  not_found,         // a named VM, job, file or resource does not exist
  not_converging,    // pre-copy gave up: the guest dirties memory faster than it can be sent
  cancelled,         // the job was cancelled by a caller
  guest,             // the guest process failed or misbehaved
  internal,          // a broken invariant in ferry itself
};

std::string_view errc_name(Errc code);

class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the place the error passed through: "precopy round 3: stream 1: connection reset".
  Error&& within(std::string_view where) && {
    message_ = std::string(where) + ": " + message_;
    return std::move(*this);
  }
  Error& within(std::string_view where) & {
    message_ = std::string(where) + ": " + message_;
    return *this;
  }

 private:
  Errc code_;
  std::string message_;
};

// Builds an Error from errno after a failed system call: "open /dev/shm/x: No such file or
// directory".
Error errno_error(std::string_view what, int err);
Error errno_error(std::string_view what);  // uses the current errno

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!ok());
    return *error_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*error_);
  }

 private:
  std::optional<T> value_;
  std::optional<Error> error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    assert(!ok());
    return *error_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

inline Result<void> ok() {
  return {};
}

}  // namespace ferry
