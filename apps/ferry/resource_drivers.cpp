#include "apps/ferry/resource_drivers.h"

namespace ferry::cli {

std::shared_ptr<const ResourceRegistry> linked_resource_drivers() {
  auto registry = std::make_shared<ResourceRegistry>();
  return registry;
}

}  // namespace ferry::cli
