#include "drivers/net/ovs/mac_announcer.h"

#include <atomic>
#include <condition_variable>

#include "drivers/net/ovs/tap_device.h"
#include "engine/posix/network_namespace.h"

namespace ferry::ovs {

struct MacAnnouncer::Announcement {
  std::atomic<int> rounds_sent{0};
  std::jthread thread;
};

namespace {

// One round: attach a queue only while writing, so the kernel never steers traffic meant for
// the guest to a queue nobody reads.
Result<void> send_round(const std::string& tap,
                        const std::vector<std::vector<std::uint8_t>>& frames) {
  auto queue = open_tap_queue(tap);
  if (!queue) return std::move(queue).error();
  return send_frames(queue->get(), tap, frames);
}

std::string key(const std::string& netns, const std::string& tap) {
  return netns + "/" + tap;
}

}  // namespace

Result<void> send_on_tap(const std::string& netns, const std::string& tap,
                         const std::vector<std::vector<std::uint8_t>>& frames) {
  return run_in_network_namespace(netns, [&] { return send_round(tap, frames); });
}

MacAnnouncer::~MacAnnouncer() {
  std::map<std::string, std::shared_ptr<Announcement>> running;
  {
    std::lock_guard lock(mutex_);
    running.swap(running_);
  }
  for (auto& [tap, announcement] : running) {
    announcement->thread.request_stop();
    if (announcement->thread.joinable()) announcement->thread.join();
  }
}

Result<void> MacAnnouncer::announce(const std::string& netns, const std::string& tap,
                                    std::vector<std::vector<std::uint8_t>> frames,
                                    const AnnounceSchedule& schedule) {
  stop(netns, tap);
  auto announcement = std::make_shared<Announcement>();
  if (auto first = send_on_tap(netns, tap, frames); !first) {
    return std::move(first).error().within("announce the MAC (round 1)");
  }
  announcement->rounds_sent = 1;
  if (schedule.rounds > 1) {
    announcement->thread = std::jthread([netns, tap, frames = std::move(frames), schedule,
                                         state = announcement.get()](std::stop_token stop) {
      if (!enter_network_namespace(netns)) return;
      std::mutex mutex;
      std::condition_variable_any wake;
      for (int round = 1; round < schedule.rounds; ++round) {
        std::unique_lock lock(mutex);
        if (wake.wait_for(lock, stop, schedule.gap_before(round),
                          [&stop] { return stop.stop_requested(); })) {
          return;
        }
        if (!send_round(tap, frames)) return;
        state->rounds_sent = round + 1;
      }
    });
  }
  std::lock_guard lock(mutex_);
  running_[key(netns, tap)] = std::move(announcement);
  return ok();
}

void MacAnnouncer::stop(const std::string& netns, const std::string& tap) {
  std::shared_ptr<Announcement> announcement;
  {
    std::lock_guard lock(mutex_);
    const auto it = running_.find(key(netns, tap));
    if (it == running_.end()) return;
    announcement = std::move(it->second);
    running_.erase(it);
  }
  announcement->thread.request_stop();
  if (announcement->thread.joinable()) announcement->thread.join();
}

int MacAnnouncer::rounds_sent(const std::string& netns, const std::string& tap) const {
  std::lock_guard lock(mutex_);
  const auto it = running_.find(key(netns, tap));
  return it == running_.end() ? 0 : it->second->rounds_sent.load();
}

}  // namespace ferry::ovs
