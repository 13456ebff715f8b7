#include <fmt/format.h>

#include "engine/resources/resource_driver.h"

namespace ferry {

Result<ResourceSpec> ResourceSpec::from_json(const nlohmann::json& json) {
  if (!json.is_object()) return Error(Errc::invalid_argument, "resource: not a JSON object");
  auto id = json.find("id");
  auto driver = json.find("driver");
  if (id == json.end() || !id->is_string() || id->get<std::string>().empty())
    return Error(Errc::invalid_argument, "resource: \"id\" (a non-empty string) is required");
  if (driver == json.end() || !driver->is_string() || driver->get<std::string>().empty())
    return Error(Errc::invalid_argument,
                 fmt::format("resource {}: \"driver\" (a non-empty string) is required",
                             id->get<std::string>()));
  return ResourceSpec{id->get<std::string>(), driver->get<std::string>(), json};
}

}  // namespace ferry
