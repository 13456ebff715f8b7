// The resource drivers this program links (engine/ never includes drivers/: the program does).
#pragma once

#include <memory>

#include "engine/resources/resource_registry.h"

namespace ferry::cli {

std::shared_ptr<const ResourceRegistry> linked_resource_drivers();

}  // namespace ferry::cli
