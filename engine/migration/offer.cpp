#include "engine/migration/offer.h"

#include <fmt/format.h>

#include <random>

#include "engine/memory/page.h"

namespace ferry {

nlohmann::json Offer::to_json() const {
  nlohmann::json regions_json = nlohmann::json::array();
  for (const auto& r : regions)
    regions_json.push_back({{"id", r.id}, {"name", r.name}, {"size", r.size}});
  return {{"session", session},
          {"vm", {{"name", vm_name}, {"kind", vm_kind}, {"spec", vm_spec}}},
          {"regions", regions_json},
          {"streams", streams},
          {"verify", verify},
          {"source-host", source_host},
          {"resources", {{"specs", resources}, {"facts", resource_facts}}}};
}

Result<Offer> Offer::from_json(const nlohmann::json& json) {
  try {
    Offer offer;
    offer.session = json.at("session").get<std::string>();
    const auto& vm = json.at("vm");
    offer.vm_name = vm.at("name").get<std::string>();
    offer.vm_kind = vm.at("kind").get<std::string>();
    offer.vm_spec = vm.at("spec");
    for (const auto& r : json.at("regions")) {
      RegionLayout region{r.at("id").get<uint32_t>(), r.at("name").get<std::string>(),
                          r.at("size").get<uint64_t>()};
      if (region.size == 0 || region.size % kPageSize != 0)
        return Error(Errc::protocol, fmt::format("OFFER: region {} has size {}, not a positive "
                                                 "multiple of {}",
                                                 region.name, region.size, kPageSize));
      offer.regions.push_back(std::move(region));
    }
    offer.streams = json.at("streams").get<uint32_t>();
    if (offer.streams == 0 || offer.streams > 64)
      return Error(Errc::protocol, fmt::format("OFFER: {} streams (1..64 allowed)", offer.streams));
    offer.verify = json.value("verify", false);
    offer.source_host = json.value("source-host", "");
    if (json.contains("resources")) {
      const auto& resources = json.at("resources");
      offer.resources = resources.at("specs");
      offer.resource_facts = resources.at("facts");
      if (!offer.resources.is_array() || !offer.resource_facts.is_object())
        return Error(Errc::protocol, "OFFER: resources must hold a specs array and a facts object");
    }
    if (offer.session.empty() || offer.vm_name.empty() || offer.regions.empty())
      return Error(Errc::protocol, "OFFER: session, vm name and regions are required");
    return offer;
  } catch (const nlohmann::json::exception& e) {
    return Error(Errc::protocol, fmt::format("OFFER: malformed: {}", e.what()));
  }
}

std::string new_session_id() {
  std::random_device device;
  std::mt19937_64 generator((uint64_t{device()} << 32) ^ device());
  return fmt::format("{:016x}{:016x}", generator(), generator());
}

}  // namespace ferry
