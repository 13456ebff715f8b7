#include "tests/unit/ovs/probe_port.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "engine/posix/network_namespace.h"
#include "tests/unit/ovs/test_command.h"

namespace ferry::ovs {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

}  // namespace

Result<std::unique_ptr<ProbePort>> ProbePort::attach(OvsBridge& bridges,
                                                     const std::string& host_netns,
                                                     const std::string& bridge,
                                                     const std::string& netns,
                                                     const std::string& port) {
  std::unique_ptr<ProbePort> probe(new ProbePort());
  (void)run_command({"ip", "netns", "del", netns});  // a leftover of a dead run with our PID
  if (auto made = run_checked({"ip", "netns", "add", netns}); !made) return std::move(made).error();
  probe->netns_ = netns;
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", port, "netns", host_netns, "type", "veth", "peer", "name",
            "probe0", "netns", netns},
           {"ip", "-n", host_netns, "link", "set", port, "up"},
           {"ip", "-n", netns, "link", "set", "probe0", "up"},
           {"ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"}}) {
    if (auto ran = run_checked(command); !ran) return std::move(ran).error();
  }
  if (auto added = bridges.add_port({.bridge = bridge, .name = port}); !added) {
    return std::move(added).error();
  }
  auto opened = run_in_network_namespace(netns, [&]() -> Result<void> {
    UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
    if (!fd.valid()) return errno_error("AF_PACKET socket in " + netns);
    const int on = 1;
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on)) != 0) {
      return errno_error("PACKET_AUXDATA");
    }
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = static_cast<int>(::if_nametoindex("probe0"));
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return errno_error("bind to probe0 in " + netns);
    }
    probe->socket_ = std::move(fd);
    return ok();
  });
  if (!opened) return std::move(opened).error();
  return probe;
}

ProbePort::~ProbePort() {
  socket_.reset();
  if (!netns_.empty()) (void)run_command({"ip", "netns", "del", netns_});
}

Result<void> ProbePort::send(const Bytes& frame) {
  if (::send(socket_.get(), frame.data(), frame.size(), 0) != static_cast<ssize_t>(frame.size())) {
    return errno_error("send on the probe port in " + netns_);
  }
  return ok();
}

std::optional<ReceivedFrame> ProbePort::receive_until(Clock::time_point deadline) {
  pollfd descriptor{socket_.get(), POLLIN, 0};
  if (::poll(&descriptor, 1, remaining_ms(deadline)) <= 0) return std::nullopt;
  ReceivedFrame received;
  received.frame.resize(65536);
  iovec vector{received.frame.data(), received.frame.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(tpacket_auxdata))];
  sockaddr_ll from{};
  msghdr message{};
  message.msg_name = &from;
  message.msg_namelen = sizeof(from);
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(socket_.get(), &message, 0);
  if (n < 0) return std::nullopt;
  received.at = Clock::now();
  received.frame.resize(static_cast<std::size_t>(n));
  if (from.sll_pkttype == PACKET_OUTGOING) {
    received.frame.clear();  // our own send
    return received;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
    tpacket_auxdata aux;
    std::memcpy(&aux, CMSG_DATA(c), sizeof(aux));
    if (aux.tp_status & TP_STATUS_VLAN_VALID) received.vlan = aux.tp_vlan_tci & 0x0fff;
  }
  // Not offloaded: the tag is still in the frame.
  if (received.frame.size() >= 18 && received.frame[12] == 0x81 && received.frame[13] == 0x00) {
    received.vlan = (received.frame[14] << 8 | received.frame[15]) & 0x0fff;
    received.frame.erase(received.frame.begin() + 12, received.frame.begin() + 16);
  }
  return received;
}

std::vector<ReceivedFrame> ProbePort::receive_for(std::chrono::milliseconds window,
                                                  const std::function<bool(const Bytes&)>& match) {
  std::vector<ReceivedFrame> frames;
  const auto deadline = Clock::now() + window;
  while (Clock::now() < deadline) {
    auto received = receive_until(deadline);
    if (!received) continue;
    if (!received->frame.empty() && match(received->frame)) frames.push_back(std::move(*received));
  }
  return frames;
}

std::optional<ReceivedFrame> ProbePort::receive_first(
    std::chrono::milliseconds timeout, const std::function<bool(const Bytes&)>& match) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto received = receive_until(deadline);
    if (received && !received->frame.empty() && match(received->frame)) return received;
  }
  return std::nullopt;
}

std::vector<Bytes> read_tap_frames(int fd, std::chrono::milliseconds window,
                                   const std::function<bool(const Bytes&)>& match) {
  std::vector<Bytes> frames;
  const auto deadline = Clock::now() + window;
  while (true) {
    pollfd descriptor{fd, POLLIN, 0};
    if (::poll(&descriptor, 1, remaining_ms(deadline)) <= 0) break;
    Bytes frame(65536);
    const ssize_t n = ::read(fd, frame.data(), frame.size());
    if (n <= 0) break;
    frame.resize(static_cast<std::size_t>(n));
    if (match(frame)) frames.push_back(std::move(frame));
  }
  return frames;
}

}  // namespace ferry::ovs
