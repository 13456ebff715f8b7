#include "tests/unit/ovs/client_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "engine/posix/network_namespace.h"
#include "engine/vm/sim/echo_responder.h"

namespace ferry::ovs {
namespace {

constexpr std::uint16_t kPingId = 0x4652;         // "FR"
constexpr std::uint32_t kStreamBase = 1'000'000;  // stream sequences, apart from single echoes

bool wait_readable(int fd, Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd descriptor{fd, POLLIN, 0};
  return ::poll(&descriptor, 1, static_cast<int>(left)) > 0;
}

}  // namespace

Result<std::unique_ptr<ClientProbe>> ClientProbe::open(const std::string& netns,
                                                       const std::string& guest_ip) {
  std::unique_ptr<ClientProbe> probe(new ClientProbe());
  if (::inet_pton(AF_INET, guest_ip.c_str(), &probe->guest_ip_) != 1) {
    return Error(Errc::invalid_argument, "not an IPv4 address: " + guest_ip);
  }
  auto opened = run_in_network_namespace(netns, [&]() -> Result<void> {
    probe->icmp_.reset(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
    if (!probe->icmp_.valid()) return errno_error("raw ICMP socket in " + netns);
    probe->udp_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!probe->udp_.valid()) return errno_error("UDP socket in " + netns);
    sockaddr_in guest{};
    guest.sin_family = AF_INET;
    guest.sin_port = htons(7);
    guest.sin_addr.s_addr = probe->guest_ip_;
    if (::connect(probe->udp_.get(), reinterpret_cast<sockaddr*>(&guest), sizeof(guest)) != 0) {
      return errno_error("connect UDP to " + guest_ip + ":7 in " + netns);
    }
    return ok();
  });
  if (!opened) return std::move(opened).error();
  return probe;
}

bool ClientProbe::ping(std::uint16_t sequence, std::chrono::milliseconds timeout) {
  std::uint8_t request[16] = {ICMP_ECHO,
                              0,
                              0,
                              0,
                              kPingId >> 8,
                              kPingId & 0xff,
                              static_cast<std::uint8_t>(sequence >> 8),
                              static_cast<std::uint8_t>(sequence),
                              'f',
                              'e',
                              'r',
                              'r',
                              'y'};
  const std::uint16_t checksum = sim::internet_checksum(request);
  request[2] = static_cast<std::uint8_t>(checksum >> 8);
  request[3] = static_cast<std::uint8_t>(checksum);
  sockaddr_in guest{};
  guest.sin_family = AF_INET;
  guest.sin_addr.s_addr = guest_ip_;
  if (::sendto(icmp_.get(), request, sizeof(request), 0, reinterpret_cast<sockaddr*>(&guest),
               sizeof(guest)) != sizeof(request)) {
    return false;
  }
  const auto deadline = Clock::now() + timeout;
  while (wait_readable(icmp_.get(), deadline)) {
    std::uint8_t reply[1500];
    const ssize_t n = ::recv(icmp_.get(), reply, sizeof(reply), 0);
    if (n < 28) continue;
    const std::size_t header = std::size_t{reply[0] & 0x0fu} * 4;
    if (static_cast<std::size_t>(n) < header + 8) continue;
    const std::uint8_t* icmp = reply + header;
    std::uint32_t source;
    std::memcpy(&source, reply + 12, 4);
    if (source == guest_ip_ && icmp[0] == ICMP_ECHOREPLY && (icmp[4] << 8 | icmp[5]) == kPingId &&
        (icmp[6] << 8 | icmp[7]) == sequence) {
      return true;
    }
  }
  return false;
}

bool ClientProbe::udp_echo(std::uint32_t sequence, std::chrono::milliseconds timeout) {
  const std::uint32_t wire = htonl(sequence);
  if (::send(udp_.get(), &wire, sizeof(wire), 0) != sizeof(wire)) return false;
  const auto deadline = Clock::now() + timeout;
  while (wait_readable(udp_.get(), deadline)) {
    std::uint32_t reply = 0;
    if (::recv(udp_.get(), &reply, sizeof(reply), 0) == sizeof(reply) && reply == wire) {
      return true;
    }
  }
  return false;
}

void ClientProbe::start_stream(std::chrono::milliseconds interval) {
  streaming_ = true;
  sender_ = std::thread([this, interval] {
    for (std::uint32_t sequence = kStreamBase; streaming_; ++sequence) {
      const std::uint32_t wire = htonl(sequence);
      // Refused while the guest's address is unresolved: counts as sent, like a lost datagram.
      (void)::send(udp_.get(), &wire, sizeof(wire), 0);
      {
        std::lock_guard lock(mutex_);
        ++sent_;
      }
      std::this_thread::sleep_for(interval);
    }
  });
  receiver_ = std::thread([this] {
    while (streaming_) {
      if (!wait_readable(udp_.get(), Clock::now() + std::chrono::milliseconds(50))) continue;
      std::uint32_t reply = 0;
      if (::recv(udp_.get(), &reply, sizeof(reply), 0) != sizeof(reply)) continue;
      const std::uint32_t sequence = ntohl(reply);
      if (sequence < kStreamBase) continue;
      std::lock_guard lock(mutex_);
      ++replies_[sequence];
      reply_times_.push_back(Clock::now());
    }
  });
}

ClientProbe::StreamReport ClientProbe::stop_stream() {
  streaming_ = false;
  if (sender_.joinable()) sender_.join();
  if (receiver_.joinable()) receiver_.join();
  StreamReport report;
  std::lock_guard lock(mutex_);
  report.sent = sent_;
  for (const auto& [sequence, count] : replies_) {
    ++report.answered;
    report.duplicates += count - 1;
  }
  for (std::size_t i = 1; i < reply_times_.size(); ++i) {
    const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(reply_times_[i] -
                                                                           reply_times_[i - 1]);
    if (gap > report.longest_silence) {
      report.longest_silence = gap;
      report.silence_start = reply_times_[i - 1];
      report.silence_end = reply_times_[i];
    }
  }
  return report;
}

}  // namespace ferry::ovs
