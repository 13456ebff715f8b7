#include "engine/control/migration_table.h"

#include <fmt/format.h>

namespace ferry {

void MigrationRecord::set_job(std::shared_ptr<SourceJob> job) {
  std::lock_guard lock(mutex_);
  job_ = std::move(job);
}

void MigrationRecord::add_event(nlohmann::json event) {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  events_.push_back(std::move(event));
}

void MigrationRecord::finish(const MigrationOutcome& outcome) {
  std::lock_guard lock(mutex_);
  final_ = outcome.stats;
  events_.push_back({{"event", outcome.ok ? "completed" : "failed"},
                     {"migration", id_},
                     {"stats", outcome.stats}});
  finished_ = true;
}

std::pair<std::vector<nlohmann::json>, bool> MigrationRecord::events_since(size_t from) const {
  std::lock_guard lock(mutex_);
  std::vector<nlohmann::json> out;
  for (size_t i = from; i < events_.size(); ++i) out.push_back(events_[i]);
  return {std::move(out), finished_};
}

nlohmann::json MigrationRecord::describe() const {
  std::shared_ptr<SourceJob> job;
  nlohmann::json final;
  bool finished;
  {
    std::lock_guard lock(mutex_);
    job = job_;
    final = final_;
    finished = finished_;
  }
  nlohmann::json stats = finished ? final : (job ? job->snapshot() : nlohmann::json::object());
  return {{"id", id_},
          {"vm", vm_},
          {"destination", destination_},
          {"finished", finished},
          {"stats", stats}};
}

std::shared_ptr<SourceJob> MigrationRecord::job() const {
  std::lock_guard lock(mutex_);
  return job_;
}

bool MigrationRecord::finished() const {
  std::lock_guard lock(mutex_);
  return finished_;
}

std::shared_ptr<MigrationRecord> MigrationTable::add(const std::string& vm,
                                                     const std::string& destination) {
  std::lock_guard lock(mutex_);
  auto id = fmt::format("m{}", next_++);
  auto record = std::make_shared<MigrationRecord>(id, vm, destination);
  records_[id] = record;
  return record;
}

std::shared_ptr<MigrationRecord> MigrationTable::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<MigrationRecord>> MigrationTable::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<MigrationRecord>> out;
  for (const auto& [id, r] : records_) out.push_back(r);
  return out;
}

}  // namespace ferry
