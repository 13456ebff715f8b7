// The rest of the network as one OVS host's bridge sees it: a network namespace plugged into the
// bridge through a veth pair, with a raw socket on its end to send and capture Ethernet frames.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drivers/net/ovs/ovs_bridge.h"
#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry::ovs {

using Bytes = std::vector<std::uint8_t>;

struct ReceivedFrame {
  Bytes frame;              // as on the wire, without the 802.1Q tag
  std::optional<int> vlan;  // the tag it carried, if any
  std::chrono::steady_clock::time_point at;
};

class ProbePort {
 public:
  // Creates namespace `netns`, a veth pair whose end `port` lives in `host_netns` and is added to
  // `bridge` as a trunk port, and opens a raw socket on the other end.
  static Result<std::unique_ptr<ProbePort>> attach(OvsBridge& bridges,
                                                   const std::string& host_netns,
                                                   const std::string& bridge,
                                                   const std::string& netns,
                                                   const std::string& port);
  ~ProbePort();  // deletes the namespace, which takes the veth pair with it

  Result<void> send(const Bytes& frame);
  // Every frame `match` accepts that arrives within `window`.
  std::vector<ReceivedFrame> receive_for(std::chrono::milliseconds window,
                                         const std::function<bool(const Bytes&)>& match);
  // The first frame `match` accepts within `timeout`.
  std::optional<ReceivedFrame> receive_first(std::chrono::milliseconds timeout,
                                             const std::function<bool(const Bytes&)>& match);

 private:
  ProbePort() = default;
  std::optional<ReceivedFrame> receive_until(std::chrono::steady_clock::time_point deadline);

  std::string netns_;
  UniqueFd socket_;
};

// Reads frames from a tap queue (the VM's side of the port) until `deadline`; those `match`
// accepts.
std::vector<Bytes> read_tap_frames(int fd, std::chrono::milliseconds window,
                                   const std::function<bool(const Bytes&)>& match);

}  // namespace ferry::ovs
