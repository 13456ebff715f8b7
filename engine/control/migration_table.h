// Outgoing migrations started on this agent: their jobs, their event logs, their outcomes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/migration/source_job.h"

namespace ferry {

class MigrationRecord {
 public:
  MigrationRecord(std::string id, std::string vm, std::string destination)
      : id_(std::move(id)), vm_(std::move(vm)), destination_(std::move(destination)) {}

  const std::string& id() const { return id_; }
  const std::string& vm() const { return vm_; }

  void set_job(std::shared_ptr<SourceJob> job);
  void add_event(nlohmann::json event);
  void finish(const MigrationOutcome& outcome);

  // Events from index `from` on, and whether the log is complete.
  std::pair<std::vector<nlohmann::json>, bool> events_since(size_t from) const;
  nlohmann::json describe() const;
  std::shared_ptr<SourceJob> job() const;
  bool finished() const;

 private:
  const std::string id_, vm_, destination_;
  mutable std::mutex mutex_;
  std::shared_ptr<SourceJob> job_;
  std::vector<nlohmann::json> events_;
  bool finished_ = false;
  nlohmann::json final_;
};

class MigrationTable {
 public:
  std::shared_ptr<MigrationRecord> add(const std::string& vm, const std::string& destination);
  std::shared_ptr<MigrationRecord> find(const std::string& id) const;
  std::vector<std::shared_ptr<MigrationRecord>> all() const;

 private:
  mutable std::mutex mutex_;
  uint64_t next_ = 1;
  std::map<std::string, std::shared_ptr<MigrationRecord>> records_;
};

}  // namespace ferry
