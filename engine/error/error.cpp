#include "engine/error/error.h"

#include <cerrno>
#include <cstring>

namespace ferry {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::io:
      return "io";
    case Errc::timeout:
      return "timeout";
    case Errc::connection_lost:
      return "connection_lost";
    case Errc::unreachable:
      return "unreachable";
    case Errc::protocol:
      return "protocol";
    case Errc::corrupt:
      return "corrupt";
    case Errc::version_mismatch:
      return "version_mismatch";
    case Errc::rejected:
      return "rejected";
    case Errc::peer_abort:
      return "peer_abort";
    case Errc::no_space:
      return "no_space";
    case Errc::not_found:
      return "not_found";
    case Errc::not_converging:
      return "not_converging";
    case Errc::cancelled:
      return "cancelled";
    case Errc::guest:
      return "guest";
    case Errc::internal:
      return "internal";
  }
  return "unknown";
}

Error errno_error(std::string_view what, int err) {
  Errc code = Errc::io;
  if (err == ENOSPC || err == ENOMEM || err == EFBIG || err == EDQUOT) code = Errc::no_space;
  if (err == ENOENT) code = Errc::not_found;
  if (err == ETIMEDOUT) code = Errc::timeout;
  if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) code = Errc::unreachable;
  if (err == ECONNRESET || err == EPIPE) code = Errc::connection_lost;
  return Error(code, std::string(what) + ": " + std::strerror(err));
}

Error errno_error(std::string_view what) {
  return errno_error(what, errno);
}

}  // namespace ferry
