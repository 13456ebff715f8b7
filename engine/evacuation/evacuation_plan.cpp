#include "engine/evacuation/evacuation_plan.h"

#include <algorithm>

#include <fmt/format.h>

namespace ferry {
namespace {

std::string mib(uint64_t bytes) {
  return fmt::format("{} MiB", bytes >> 20);
}

}  // namespace

EvacuationPlan::EvacuationPlan(std::vector<EvacueeVm> vms, std::vector<EvacuationTarget> targets,
                               unsigned concurrency)
    : concurrency_(std::max(1u, concurrency)) {
  std::stable_sort(vms.begin(), vms.end(),
                   [](const EvacueeVm& a, const EvacueeVm& b) { return a.memory > b.memory; });
  for (auto& vm : vms) entries_.push_back(Entry{std::move(vm)});
  for (auto& target : targets) targets_.push_back(Target{std::move(target)});
}

std::optional<size_t> EvacuationPlan::target_for(const Entry& entry) const {
  std::optional<size_t> best;
  auto room = [&](const Target& t) -> std::optional<uint64_t> {
    if (!t.info.free_memory) return std::nullopt;
    const uint64_t used = t.committed + kHeadroom;
    return *t.info.free_memory > used ? *t.info.free_memory - used : 0;
  };
  for (size_t i = 0; i < targets_.size(); ++i) {
    const Target& t = targets_[i];
    const bool refused = std::any_of(entry.refusals.begin(), entry.refusals.end(),
                                     [&](const auto& r) { return r.first == t.info.endpoint; });
    if (refused) continue;
    const auto left = room(t);
    if (left && *left < entry.vm.memory) continue;
    if (!best) {
      best = i;
      continue;
    }
    // Known room beats unknown; more room beats less.
    const auto best_left = room(targets_[*best]);
    if (left && (!best_left || *left > *best_left)) best = i;
  }
  return best;
}

std::optional<Placement> EvacuationPlan::next() {
  if (running() >= concurrency_) return std::nullopt;
  for (auto& entry : entries_) {
    if (entry.state != Entry::State::waiting) continue;
    auto target = target_for(entry);
    if (!target) continue;
    entry.state = Entry::State::running;
    entry.destination = targets_[*target].info.endpoint;
    targets_[*target].committed += entry.vm.memory;
    return Placement{entry.vm.name, entry.destination};
  }
  return std::nullopt;
}

void EvacuationPlan::finished(const std::string& vm, MoveOutcome outcome,
                              const std::string& reason) {
  for (auto& entry : entries_) {
    if (entry.vm.name != vm || entry.state != Entry::State::running) continue;
    auto target = std::find_if(targets_.begin(), targets_.end(), [&](const Target& t) {
      return t.info.endpoint == entry.destination;
    });
    switch (outcome) {
      case MoveOutcome::moved:
        entry.state = Entry::State::moved;  // its memory stays committed there
        entry.reason.clear();
        break;
      case MoveOutcome::refused:
        if (target != targets_.end()) target->committed -= entry.vm.memory;
        entry.refusals.emplace_back(entry.destination, reason);
        entry.destination.clear();
        entry.state = Entry::State::waiting;
        break;
      case MoveOutcome::failed:
        if (target != targets_.end()) target->committed -= entry.vm.memory;
        entry.state = Entry::State::failed;
        entry.reason = reason;
        break;
    }
    return;
  }
}

void EvacuationPlan::give_up_waiting(const std::string& reason) {
  for (auto& entry : entries_) {
    if (entry.state != Entry::State::waiting) continue;
    entry.state = Entry::State::failed;
    entry.reason = reason;
  }
}

unsigned EvacuationPlan::running() const {
  return static_cast<unsigned>(std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) {
    return e.state == Entry::State::running;
  }));
}

bool EvacuationPlan::done() const {
  if (running() > 0) return false;
  return std::none_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.state == Entry::State::waiting && target_for(e).has_value();
  });
}

bool EvacuationPlan::host_empty() const {
  return std::all_of(entries_.begin(), entries_.end(),
                     [](const Entry& e) { return e.state == Entry::State::moved; });
}

std::string EvacuationPlan::why_stuck(const Entry& entry) const {
  std::vector<std::string> parts;
  for (const auto& t : targets_) {
    auto refusal = std::find_if(entry.refusals.begin(), entry.refusals.end(),
                                [&](const auto& r) { return r.first == t.info.endpoint; });
    if (refusal != entry.refusals.end()) {
      parts.push_back(fmt::format("{} refused: {}", t.info.endpoint, refusal->second));
    } else if (t.info.free_memory) {
      const uint64_t used = t.committed + kHeadroom;
      const uint64_t left = *t.info.free_memory > used ? *t.info.free_memory - used : 0;
      parts.push_back(fmt::format("{} has {} free", t.info.endpoint, mib(left)));
    } else {
      parts.push_back(fmt::format("{}: {}", t.info.endpoint, t.info.note));
    }
  }
  return fmt::format("no destination can take it (needs {} + {} headroom): {}",
                     mib(entry.vm.memory), mib(kHeadroom), fmt::join(parts, "; "));
}

nlohmann::json EvacuationPlan::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  const bool settled = done();
  for (const auto& entry : entries_) {
    std::string state;
    std::string reason = entry.reason;
    switch (entry.state) {
      case Entry::State::waiting:
        state = settled ? "stuck" : "waiting";
        if (settled) reason = why_stuck(entry);
        break;
      case Entry::State::running:
        state = "running";
        break;
      case Entry::State::moved:
        state = "moved";
        break;
      case Entry::State::failed:
        state = "failed";
        break;
    }
    nlohmann::json item = {{"vm", entry.vm.name}, {"memory", entry.vm.memory}, {"state", state}};
    if (!entry.destination.empty()) item["destination"] = entry.destination;
    if (!reason.empty()) item["reason"] = reason;
    if (!entry.refusals.empty()) {
      nlohmann::json refused = nlohmann::json::object();
      for (const auto& [endpoint, why] : entry.refusals) refused[endpoint] = why;
      item["refused-by"] = refused;
    }
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace ferry
