#include "engine/vm/sim/sim_attachments.h"

#include <string>

#include <fmt/format.h>

namespace ferry {
namespace {

Result<std::string> text_field(const nlohmann::json& attach, const char* key,
                               const std::string& id) {
  auto it = attach.find(key);
  if (it == attach.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Error(Errc::invalid_argument,
                 fmt::format("resource {}: a simulated guest's NIC needs \"{}\" (a string) in its "
                             "attachment; got {}",
                             id, key, attach.dump()));
  }
  return it->get<std::string>();
}

}  // namespace

Result<std::optional<SimNic>> sim_nic_from_attachments(const nlohmann::json& attachments) {
  if (attachments.is_null()) return std::optional<SimNic>();
  if (!attachments.is_object()) {
    return Error(Errc::invalid_argument, "resource attachments are not a JSON object");
  }
  std::optional<SimNic> found;
  std::string found_id;
  for (const auto& [id, attach] : attachments.items()) {
    if (!attach.is_object() || !attach.contains("tap")) continue;
    if (found) {
      return Error(Errc::invalid_argument,
                   fmt::format("resources {} and {} are both NICs; a simulated guest has one",
                               found_id, id));
    }
    SimNic nic;
    for (auto [key, out] :
         {std::pair{"tap", &nic.tap}, std::pair{"mac", &nic.mac}, std::pair{"ip", &nic.ip}}) {
      auto value = text_field(attach, key, id);
      if (!value) return std::move(value).error();
      *out = std::move(*value);
    }
    if (auto netns = attach.find("netns"); netns != attach.end()) {
      if (!netns->is_string()) {
        return Error(Errc::invalid_argument,
                     fmt::format("resource {}: \"netns\" is not a string", id));
      }
      nic.netns = netns->get<std::string>();
    }
    found = std::move(nic);
    found_id = id;
  }
  return found;
}

}  // namespace ferry
