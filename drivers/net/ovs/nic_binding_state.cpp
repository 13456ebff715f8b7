#include "drivers/net/ovs/nic_binding_state.h"

#include <fmt/format.h>

namespace ferry::ovs {

nlohmann::json NicBindingState::to_json() const {
  return {{"tap", tap},
          {"bridge", bridge},
          {"tag", tag ? nlohmann::json(*tag) : nlohmann::json()},
          {"quarantine-bridge", quarantine_bridge},
          {"db", db},
          {"netns", netns},
          {"announce",
           {{"rounds", announce.rounds},
            {"initial-ms", announce.initial.count()},
            {"step-ms", announce.step.count()}}}};
}

Result<NicBindingState> NicBindingState::from_json(const nlohmann::json& state,
                                                   std::string_view resource) {
  const auto bad = [&](std::string_view field) {
    return Error(Errc::invalid_argument,
                 fmt::format("NIC {}: binding state field \"{}\" is missing or has the wrong "
                             "type: {}",
                             resource, field, state.dump().substr(0, 300)));
  };
  if (!state.is_object()) return bad("(object)");
  NicBindingState result;
  for (auto [key, out] : {std::pair{"tap", &result.tap}, std::pair{"bridge", &result.bridge},
                          std::pair{"quarantine-bridge", &result.quarantine_bridge},
                          std::pair{"db", &result.db}, std::pair{"netns", &result.netns}}) {
    const auto it = state.find(key);
    if (it == state.end() || !it->is_string()) return bad(key);
    *out = it->get<std::string>();
  }
  if (result.tap.empty() || result.bridge.empty() || result.db.empty() ||
      result.quarantine_bridge.empty()) {
    return bad("tap/bridge/db/quarantine-bridge");
  }
  if (const auto tag = state.find("tag"); tag != state.end() && !tag->is_null()) {
    if (!tag->is_number_integer() || tag->get<int>() < 0 || tag->get<int>() > 4095) {
      return bad("tag");
    }
    result.tag = tag->get<int>();
  }
  const auto announce = state.find("announce");
  if (announce == state.end() || !announce->is_object()) return bad("announce");
  const auto integer = [&](const char* key) -> std::optional<std::int64_t> {
    const auto it = announce->find(key);
    if (it == announce->end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
      return std::nullopt;
    }
    return it->get<std::int64_t>();
  };
  const auto rounds = integer("rounds");
  const auto initial = integer("initial-ms");
  const auto step = integer("step-ms");
  if (!rounds || *rounds < 1 || !initial || !step) return bad("announce");
  result.announce = {static_cast<int>(*rounds), std::chrono::milliseconds(*initial),
                     std::chrono::milliseconds(*step)};
  return result;
}

Result<NicBindingState> NicBindingState::plan(const NicSpec& nic, const OvsHostConfig& config,
                                              std::string_view host) {
  const auto mapping = config.networks.find(nic.network);
  if (mapping == config.networks.end()) {
    return Error(Errc::not_found,
                 fmt::format("network \"{}\" of NIC {} is not mapped to a bridge on host {} "
                             "(resources.ovs.networks)",
                             nic.network, nic.id, host));
  }
  NicBindingState state;
  state.tap = nic.tap;
  state.bridge = mapping->second.bridge;
  state.tag = mapping->second.tag;
  state.quarantine_bridge = config.quarantine_bridge;
  state.db = config.db;
  state.netns = config.netns;
  state.announce = config.announce;
  return state;
}

}  // namespace ferry::ovs
