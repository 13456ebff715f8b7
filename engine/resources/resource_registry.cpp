#include "engine/resources/resource_registry.h"

#include <fmt/format.h>

namespace ferry {

Result<void> ResourceRegistry::add(std::shared_ptr<ResourceDriver> driver) {
  std::string name(driver->name());
  if (drivers_.contains(name))
    return Error(Errc::internal, fmt::format("resource driver \"{}\" registered twice", name));
  drivers_.emplace(std::move(name), std::move(driver));
  return {};
}

Result<std::shared_ptr<ResourceDriver>> ResourceRegistry::find(std::string_view name) const {
  auto it = drivers_.find(name);
  if (it == drivers_.end()) {
    std::string known = fmt::format("{}", fmt::join(names(), ", "));
    return Error(Errc::not_found, fmt::format("no resource driver \"{}\" on this host (known: {})",
                                              name, known.empty() ? "none" : known));
  }
  return it->second;
}

std::vector<std::string> ResourceRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, driver] : drivers_) out.push_back(name);
  return out;
}

}  // namespace ferry
