// The simulated guest's NIC: a queue of a tap device (created beforehand, e.g. by the ovs
// resource driver) and a thread that answers what echo_responder.h answers — only while the guest
// runs. Paused, it reads nothing, like a paused VM: frames wait in the tap's queue (or are dropped
// by the kernel when it is full).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"
#include "engine/vm/sim/echo_responder.h"

namespace ferry::sim {

class TapEndpoint {
 public:
  // Attaches a queue of tap `tap` (IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE, the flags every user of
  // the device shares). Errc::not_found when no such device exists in this network namespace.
  // Starts paused.
  static Result<std::unique_ptr<TapEndpoint>> open(const std::string& tap,
                                                   const NicAddress& address);
  ~TapEndpoint();
  TapEndpoint(const TapEndpoint&) = delete;
  TapEndpoint& operator=(const TapEndpoint&) = delete;

  void run();
  // Returns once no answer can be sent any more.
  void pause();
  bool running() const;

  // {"tap", "mac", "ip", "state": "running"/"paused", "received", "answered":
  //  {"arp", "icmp", "udp"}, "send_failures", "error": "..." (after a failed read: the NIC then
  //  stops answering)}
  nlohmann::json status() const;

 private:
  TapEndpoint(std::string tap, NicAddress address, UniqueFd queue, UniqueFd wake);
  void serve();
  void answer_pending();
  void set_running(bool running);

  const std::string tap_;
  const NicAddress address_;
  UniqueFd queue_;
  UniqueFd wake_;  // eventfd: state changes and shutdown

  mutable std::mutex mutex_;  // held while a frame is answered, so pause() can wait for it
  bool running_ = false;
  bool stopping_ = false;
  std::string error_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> answered_arp_{0};
  std::atomic<std::uint64_t> answered_icmp_{0};
  std::atomic<std::uint64_t> answered_udp_{0};
  std::atomic<std::uint64_t> send_failures_{0};
  std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(65536);  // serve thread only
  std::thread thread_;
};

}  // namespace ferry::sim
