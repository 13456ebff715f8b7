// Announces a VM's MAC from its tap after a move: the first round at once, the rest on a thread
// of its own so that activate returns without waiting for them (the guest resumes meanwhile).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "drivers/net/ovs/nic_config.h"
#include "engine/error/error.h"

namespace ferry::ovs {

class MacAnnouncer {
 public:
  MacAnnouncer() = default;
  MacAnnouncer(const MacAnnouncer&) = delete;
  MacAnnouncer& operator=(const MacAnnouncer&) = delete;
  ~MacAnnouncer();  // stops every announcement still running

  // Sends `frames` on tap `tap` (in namespace `netns`) now, then schedule.rounds - 1 more times in
  // the background. Fails when the first round cannot be sent; a later round that fails ends the
  // announcement quietly (release may have removed the tap meanwhile). Replaces an announcement
  // still running for the same tap in the same namespace.
  Result<void> announce(const std::string& netns, const std::string& tap,
                        std::vector<std::vector<std::uint8_t>> frames,
                        const AnnounceSchedule& schedule);

  // Stops the announcement for `tap` in `netns`, if any, and waits until its thread has ended;
  // rounds_sent() is 0 afterwards.
  void stop(const std::string& netns, const std::string& tap);

  // Rounds sent so far by the announcement for `tap` in `netns` (for tests and logs).
  int rounds_sent(const std::string& netns, const std::string& tap) const;

 private:
  struct Announcement;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Announcement>> running_;  // by "netns/tap"
};

// Opens a queue of `tap` in `netns`, writes the frames, closes the queue.
Result<void> send_on_tap(const std::string& netns, const std::string& tap,
                         const std::vector<std::vector<std::uint8_t>>& frames);

}  // namespace ferry::ovs
