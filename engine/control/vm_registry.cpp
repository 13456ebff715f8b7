#include "engine/control/vm_registry.h"

#include <fmt/format.h>

namespace ferry {

Result<void> VmRegistry::add(std::shared_ptr<Vm> vm, std::shared_ptr<ResourceSet> resources) {
  std::lock_guard lock(mutex_);
  const std::string name = vm->name();
  if (vms_.count(name))
    return Error(Errc::invalid_argument, fmt::format("a VM named '{}' already runs here", name));
  vms_.emplace(name, std::move(vm));
  if (resources) resources_[name] = std::move(resources);
  return ok();
}

std::shared_ptr<ResourceSet> VmRegistry::resources_of(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = resources_.find(name);
  return it == resources_.end() ? nullptr : it->second;
}

std::shared_ptr<Vm> VmRegistry::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = vms_.find(name);
  return it == vms_.end() ? nullptr : it->second;
}

std::shared_ptr<Vm> VmRegistry::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = vms_.find(name);
  if (it == vms_.end()) return nullptr;
  auto vm = std::move(it->second);
  vms_.erase(it);
  migrating_.erase(name);
  resources_.erase(name);
  return vm;
}

std::vector<std::shared_ptr<Vm>> VmRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Vm>> out;
  for (const auto& [name, vm] : vms_) out.push_back(vm);
  return out;
}

Result<void> VmRegistry::mark_migrating(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!vms_.count(name)) return Error(Errc::not_found, fmt::format("no VM named '{}' here", name));
  if (migrating_[name])
    return Error(Errc::invalid_argument, fmt::format("VM '{}' is already being migrated", name));
  migrating_[name] = true;
  return ok();
}

void VmRegistry::clear_migrating(const std::string& name) {
  std::lock_guard lock(mutex_);
  migrating_.erase(name);
}

bool VmRegistry::migrating(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = migrating_.find(name);
  return it != migrating_.end() && it->second;
}

}  // namespace ferry
