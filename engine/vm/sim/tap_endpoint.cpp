#include "engine/vm/sim/tap_endpoint.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ferry::sim {
namespace {

constexpr int kFramesPerWake = 64;

std::string format_ip(std::uint32_t ip, int prefix) {
  return fmt::format("{}.{}.{}.{}/{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff,
                     prefix);
}

std::string format_mac(const MacAddress& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                     m[5]);
}

}  // namespace

Result<std::unique_ptr<TapEndpoint>> TapEndpoint::open(const std::string& tap,
                                                       const NicAddress& address) {
  ifreq request{};
  if (tap.empty() || tap.size() >= sizeof(request.ifr_name)) {
    return Error(Errc::invalid_argument, fmt::format("tap name \"{}\" must have 1..{} characters",
                                                     tap, sizeof(request.ifr_name) - 1));
  }
  // TUNSETIFF on a missing name would create a new tap that nothing is plugged into.
  if (::if_nametoindex(tap.c_str()) == 0) {
    return Error(Errc::not_found,
                 fmt::format("tap {} does not exist in this network namespace (the ovs resource "
                             "driver creates it at prepare; `ip tuntap add {} mode tap "
                             "multi_queue` does by hand)",
                             tap, tap));
  }
  std::memcpy(request.ifr_name, tap.c_str(), tap.size() + 1);
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
  UniqueFd queue(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!queue.valid()) return errno_error("open /dev/net/tun for tap " + tap);
  if (::ioctl(queue.get(), TUNSETIFF, &request) != 0) {
    return errno_error("attach a queue of tap " + tap +
                       " (TUNSETIFF; it must be a multi-queue tap without packet info)");
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return errno_error("eventfd for tap " + tap);
  std::unique_ptr<TapEndpoint> endpoint(
      new TapEndpoint(tap, address, std::move(queue), std::move(wake)));
  endpoint->thread_ = std::thread([raw = endpoint.get()] { raw->serve(); });
  return endpoint;
}

TapEndpoint::TapEndpoint(std::string tap, NicAddress address, UniqueFd queue, UniqueFd wake)
    : tap_(std::move(tap)), address_(address), queue_(std::move(queue)), wake_(std::move(wake)) {}

TapEndpoint::~TapEndpoint() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void TapEndpoint::set_running(bool running) {
  {
    std::lock_guard lock(mutex_);
    running_ = running;
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void TapEndpoint::run() {
  set_running(true);
}

void TapEndpoint::pause() {
  set_running(false);
}

bool TapEndpoint::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

void TapEndpoint::serve() {
  while (true) {
    bool listen = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      listen = running_ && error_.empty();
    }
    std::array<pollfd, 2> fds{pollfd{wake_.get(), POLLIN, 0},
                              pollfd{queue_.get(), static_cast<short>(listen ? POLLIN : 0), 0}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      error_ = errno_error("poll tap " + tap_).message();
      continue;
    }
    if (fds[0].revents & POLLIN) {
      std::uint64_t count = 0;
      (void)!::read(wake_.get(), &count, sizeof(count));
    }
    if (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) answer_pending();
  }
}

void TapEndpoint::answer_pending() {
  std::lock_guard lock(mutex_);
  std::vector<std::uint8_t>& frame = buffer_;
  for (int i = 0; i < kFramesPerWake && running_ && !stopping_; ++i) {
    const ssize_t n = ::read(queue_.get(), frame.data(), frame.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      error_ = errno_error("read from tap " + tap_).message();
      return;
    }
    ++received_;
    auto answer = answer_frame(std::span(frame.data(), static_cast<std::size_t>(n)), address_);
    if (!answer) continue;
    if (::write(queue_.get(), answer->frame.data(), answer->frame.size()) < 0) {
      // Lost, as a NIC loses a frame; keep serving.
      ++send_failures_;
      continue;
    }
    switch (answer->kind) {
      case EchoKind::arp:
        ++answered_arp_;
        break;
      case EchoKind::icmp:
        ++answered_icmp_;
        break;
      case EchoKind::udp:
        ++answered_udp_;
        break;
    }
  }
}

nlohmann::json TapEndpoint::status() const {
  std::lock_guard lock(mutex_);
  nlohmann::json status = {{"tap", tap_},
                           {"mac", format_mac(address_.mac)},
                           {"ip", format_ip(address_.ip, address_.prefix_length)},
                           {"state", running_ ? "running" : "paused"},
                           {"received", received_.load()},
                           {"answered",
                            {{"arp", answered_arp_.load()},
                             {"icmp", answered_icmp_.load()},
                             {"udp", answered_udp_.load()}}},
                           {"send_failures", send_failures_.load()}};
  if (!error_.empty()) status["error"] = error_;
  return status;
}

}  // namespace ferry::sim
