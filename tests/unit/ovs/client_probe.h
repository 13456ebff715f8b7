// The client of a guest's network service, in a namespace of its own: single pings and UDP echo
// requests, and a steady UDP stream that measures how long replies stop while the guest moves.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry::ovs {

using Clock = std::chrono::steady_clock;

class ClientProbe {
 public:
  // Opens an ICMP and a UDP socket in namespace `netns` aimed at `guest_ip` ("10.88.0.10").
  static Result<std::unique_ptr<ClientProbe>> open(const std::string& netns,
                                                   const std::string& guest_ip);

  // One ICMP echo request; true when the reply arrives within `timeout`.
  bool ping(std::uint16_t sequence, std::chrono::milliseconds timeout);
  // One UDP datagram to port 7; true when it comes back within `timeout`.
  bool udp_echo(std::uint32_t sequence, std::chrono::milliseconds timeout);

  struct StreamReport {
    int sent = 0;
    int answered = 0;                              // distinct sequence numbers answered
    int duplicates = 0;                            // replies beyond the first for a sequence number
    std::chrono::milliseconds longest_silence{0};  // the blackout: the longest time between replies
    Clock::time_point silence_start, silence_end;  // where it was
  };
  // Sends a datagram every `interval` until stop_stream(), on a thread of its own.
  void start_stream(std::chrono::milliseconds interval);
  StreamReport stop_stream();

 private:
  ClientProbe() = default;

  std::uint32_t guest_ip_ = 0;  // network byte order
  UniqueFd icmp_;
  UniqueFd udp_;
  std::atomic<bool> streaming_{false};
  std::thread sender_, receiver_;
  std::mutex mutex_;
  int sent_ = 0;
  std::map<std::uint32_t, int> replies_;  // sequence -> count
  std::vector<Clock::time_point> reply_times_;
};

}  // namespace ferry::ovs
