// The guests an agent hosts, by name. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/error/error.h"
#include "engine/resources/resource_set.h"
#include "engine/vm/vm.h"

namespace ferry {

class VmRegistry {
 public:
  // `resources`: the guest's disks and NICs on this host, active (null: none).
  Result<void> add(std::shared_ptr<Vm> vm, std::shared_ptr<ResourceSet> resources = nullptr);
  std::shared_ptr<Vm> find(const std::string& name) const;
  std::shared_ptr<ResourceSet> resources_of(const std::string& name) const;
  // Forgets the guest and its resources (the caller stops or releases them).
  std::shared_ptr<Vm> remove(const std::string& name);
  std::vector<std::shared_ptr<Vm>> all() const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }

  // A guest being migrated away cannot be migrated again or stopped until the job ends.
  Result<void> mark_migrating(const std::string& name);
  void clear_migrating(const std::string& name);
  bool migrating(const std::string& name) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Vm>> vms_;
  std::map<std::string, std::shared_ptr<ResourceSet>> resources_;
  std::map<std::string, bool> migrating_;
};

}  // namespace ferry
