// Drivers by name ("iscsi", "nfs", "ovs"). The program registers the drivers it links at start-up
// (engine/ never includes drivers/); a VM's resources name theirs.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/error/error.h"
#include "engine/resources/resource_driver.h"

namespace ferry {

class ResourceRegistry {
 public:
  // Fails if a driver of that name is already registered.
  Result<void> add(std::shared_ptr<ResourceDriver> driver);
  Result<std::shared_ptr<ResourceDriver>> find(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::shared_ptr<ResourceDriver>, std::less<>> drivers_;
};

}  // namespace ferry
