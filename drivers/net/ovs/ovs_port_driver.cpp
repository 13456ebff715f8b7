#include "drivers/net/ovs/ovs_port_driver.h"

#include <fmt/format.h>

#include "drivers/net/ovs/announcement_frames.h"
#include "drivers/net/ovs/nic_binding_state.h"
#include "drivers/net/ovs/nic_config.h"
#include "drivers/net/ovs/ovs_bridge.h"
#include "drivers/net/ovs/tap_device.h"
#include "engine/posix/network_namespace.h"

namespace ferry::ovs {
namespace {

using Json = nlohmann::json;

// QEMU ids: a letter, then letters, digits, '-', '.', '_'.
std::string qemu_id(std::string_view resource_id) {
  std::string id = "net-";
  for (const char c : resource_id) {
    id +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_') ? c : '_';
  }
  return id;
}

Json attach_for(const NicSpec& nic, const Json& params, const std::string& netns) {
  const std::string id = qemu_id(nic.id);
  const std::string mac = format_mac(nic.mac);
  Json attach = {{"tap", nic.tap},
                 {"mac", mac},
                 {"qemu-netdev",
                  fmt::format("tap,id={},ifname={},script=no,downscript=no,vnet_hdr=off,queues=2",
                              id, nic.tap)},
                 {"qemu-device", fmt::format("e1000,netdev={},mac={}", id, mac)}};
  // The simulated guest's launcher passes these on: ferry-sim-guest --tap --mac --ip --netns.
  if (nic.ip) attach["ip"] = params.at("ip");
  if (!netns.empty()) attach["netns"] = netns;
  return attach;
}

// The source and the destination must be talking about the same NIC.
Result<void> check_source_facts(const NicSpec& nic, const Json& facts) {
  if (facts.is_null()) return ok();
  if (!facts.is_object()) {
    return Error(Errc::protocol, "the source's facts are not a JSON object: " + facts.dump());
  }
  const auto mac_text = facts.value("mac", std::string());
  auto mac = parse_mac(mac_text);
  if (!mac) return std::move(mac).error().within("the source's facts");
  if (*mac != nic.mac) {
    return Error(Errc::invalid_argument,
                 fmt::format("the source reports MAC {} for this NIC, the description says {}",
                             mac_text, format_mac(nic.mac)));
  }
  if (const auto network = facts.value("network", std::string()); network != nic.network) {
    return Error(Errc::invalid_argument,
                 fmt::format("the source reports network \"{}\" for this NIC, the description "
                             "says \"{}\"",
                             network, nic.network));
  }
  return ok();
}

// The quarantine bridge: fail_mode=secure and no controller means no flows, so a port on it
// neither receives nor sends anything.
Result<void> ensure_quarantine_bridge(OvsBridge& bridges, const std::string& name,
                                      const std::string& datapath_type, std::string_view host) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto existing = bridges.find_bridge(name);
    if (!existing) return std::move(existing).error();
    if (*existing) {
      if ((*existing)->fail_mode != "secure") {
        return Error(Errc::invalid_argument,
                     fmt::format("quarantine bridge {} on host {} has fail_mode \"{}\"; it must "
                                 "be \"secure\" so that it forwards nothing",
                                 name, host, (*existing)->fail_mode));
      }
      return ok();
    }
    auto added = bridges.add_bridge({.name = name,
                                     .datapath_type = datapath_type,
                                     .fail_mode = "secure",
                                     .external_ids = {{"ferry-role", "quarantine"}}});
    // invalid_argument: another step created it between our look and our insert; look again.
    if (added || added.error().code() != Errc::invalid_argument) return added;
  }
  return Error(Errc::internal, fmt::format("quarantine bridge {} on host {} keeps appearing and "
                                           "disappearing",
                                           name, host));
}

struct Step {
  NicSpec nic;
  NicBindingState state;
};

// The NIC and its binding state; a binding without state (made by an older agent, or by hand)
// gets the plan for this host's configuration.
Result<Step> load_step(const ResourceBinding& binding, const ResourceContext& context) {
  auto nic = parse_nic_spec(binding.spec);
  if (!nic) return std::move(nic).error();
  if (binding.state.is_object() && !binding.state.empty()) {
    auto state = NicBindingState::from_json(binding.state, binding.spec.id);
    if (!state) return std::move(state).error();
    return Step{std::move(*nic), std::move(*state)};
  }
  auto config = parse_ovs_host_config(context.host_config, context.host);
  if (!config) return std::move(config).error();
  auto state = NicBindingState::plan(*nic, *config, context.host);
  if (!state) return std::move(state).error();
  return Step{std::move(*nic), std::move(*state)};
}

}  // namespace

Result<std::shared_ptr<OvsdbClient>> OvsPortDriver::client_for(const std::string& db,
                                                               const ResourceContext& context) {
  const std::string key = fmt::format("{}#{}", db, context.timeout.count());
  std::lock_guard lock(clients_mutex_);
  if (const auto it = clients_.find(key); it != clients_.end() && it->second->connected()) {
    return it->second;
  }
  OvsdbClient::Options options;
  options.connect_timeout = context.timeout;
  options.request_timeout = context.timeout;
  auto client = OvsdbClient::connect(db, options);
  if (!client) {
    return std::move(client).error().within(
        fmt::format("Open vSwitch database {} on host {}", db, context.host));
  }
  std::shared_ptr<OvsdbClient> shared = std::move(*client);
  clients_[key] = shared;
  return shared;
}

Result<nlohmann::json> OvsPortDriver::inspect(const ResourceBinding& binding,
                                              const ResourceContext& context) {
  auto step = load_step(binding, context);
  if (!step) return std::move(step).error();
  return Json{{"mac", format_mac(step->nic.mac)},
              {"network", step->nic.network},
              {"bridge", step->state.bridge},
              {"tap", step->state.tap}};
}

Result<ResourceBinding> OvsPortDriver::prepare(const ResourceSpec& spec,
                                               const nlohmann::json& source_facts,
                                               const ResourceContext& context) {
  auto nic = parse_nic_spec(spec);
  if (!nic) return std::move(nic).error();
  if (auto same = check_source_facts(*nic, source_facts); !same) return std::move(same).error();
  auto config = parse_ovs_host_config(context.host_config, context.host);
  if (!config) return std::move(config).error();
  auto planned = NicBindingState::plan(*nic, *config, context.host);
  if (!planned) return std::move(planned).error();
  const NicBindingState& state = *planned;

  auto client = client_for(state.db, context);
  if (!client) return std::move(client).error();
  OvsBridge bridges(**client, context.timeout);
  auto target = bridges.find_bridge(state.bridge);
  if (!target) return std::move(target).error();
  if (!*target) {
    return Error(Errc::not_found,
                 fmt::format("bridge {} (network \"{}\") does not exist on host {} (Open vSwitch "
                             "at {}): refusing to move NIC {} here",
                             state.bridge, nic->network, context.host, state.db, nic->id));
  }
  if (auto quarantine = ensure_quarantine_bridge(bridges, state.quarantine_bridge,
                                                 (*target)->datapath_type, context.host);
      !quarantine) {
    return std::move(quarantine).error();
  }

  auto existing = bridges.find_port(state.tap);
  if (!existing) return std::move(existing).error();
  const std::string mac = format_mac(nic->mac);
  if (*existing) {
    const auto owner = (*existing)->external_ids.find("attached-mac");
    if (owner == (*existing)->external_ids.end() || owner->second != mac) {
      return Error(
          Errc::invalid_argument,
          fmt::format("a port named {} already exists on bridge {} on host {} and is "
                      "not this NIC's (attached-mac {}, this NIC is {})",
                      state.tap, (*existing)->bridge, context.host,
                      owner == (*existing)->external_ids.end() ? "unset" : owner->second, mac));
    }
  }

  bool created_tap = false;
  auto tap = run_in_network_namespace(state.netns, [&]() -> Result<void> {
    auto created = create_persistent_tap(state.tap);
    if (!created) return std::move(created).error();
    created_tap = *created;
    return ok();
  });
  if (!tap) return std::move(tap).error().within("host " + context.host);

  const PortPlacement quarantined{.bridge = state.quarantine_bridge,
                                  .vlan_tag = std::nullopt,
                                  .external_ids = interface_external_ids(*nic, false)};
  Result<PortInfo> port = *existing ? bridges.place_port(state.tap, quarantined)
                                    : bridges.add_port({.bridge = state.quarantine_bridge,
                                                        .name = state.tap,
                                                        .type = "",
                                                        .external_ids = quarantined.external_ids,
                                                        .vlan_tag = std::nullopt});
  if (!port) {
    Error error = std::move(port).error();
    if (created_tap) {
      auto undone =
          run_in_network_namespace(state.netns, [&] { return delete_persistent_tap(state.tap); });
      if (!undone)
        error = Error(error.code(), error.message() + "; removing tap " + state.tap +
                                        " again failed too: " + undone.error().message());
    }
    return error;
  }

  ResourceBinding binding;
  binding.spec = spec;
  binding.state = state.to_json();
  binding.attach = attach_for(*nic, spec.params, state.netns);
  return binding;
}

Result<void> OvsPortDriver::activate(ResourceBinding& binding, const ResourceContext& context) {
  auto step = load_step(binding, context);
  if (!step) return std::move(step).error();
  const NicBindingState& state = step->state;
  auto client = client_for(state.db, context);
  if (!client) return std::move(client).error();
  OvsBridge bridges(**client, context.timeout);
  auto placed =
      bridges.place_port(state.tap, {.bridge = state.bridge,
                                     .vlan_tag = state.tag,
                                     .external_ids = interface_external_ids(step->nic, true)});
  if (!placed) return std::move(placed).error().within("lift the quarantine");
  if (auto settled = bridges.settle(); !settled) return std::move(settled).error();

  std::vector<Frame> frames{rarp_announcement(step->nic.mac)};
  if (step->nic.ip) frames.push_back(gratuitous_arp(step->nic.mac, *step->nic.ip));
  if (auto announced =
          announcer_.announce(state.netns, state.tap, std::move(frames), state.announce);
      !announced) {
    return std::move(announced).error().within("host " + context.host);
  }
  return ok();
}

Result<void> OvsPortDriver::deactivate(ResourceBinding& binding, const ResourceContext& context) {
  auto step = load_step(binding, context);
  if (!step) return std::move(step).error();
  const NicBindingState& state = step->state;
  announcer_.stop(state.netns, state.tap);
  auto client = client_for(state.db, context);
  if (!client) return std::move(client).error();
  OvsBridge bridges(**client, context.timeout);
  auto existing = bridges.find_port(state.tap);
  if (!existing) return std::move(existing).error();
  if (!*existing) return ok();  // no port, no traffic: as blocked as it gets
  auto target = bridges.find_bridge(state.bridge);
  if (!target) return std::move(target).error();
  const std::string datapath_type = *target ? (*target)->datapath_type : std::string("netdev");
  if (auto quarantine =
          ensure_quarantine_bridge(bridges, state.quarantine_bridge, datapath_type, context.host);
      !quarantine) {
    return std::move(quarantine).error();
  }
  auto placed =
      bridges.place_port(state.tap, {.bridge = state.quarantine_bridge,
                                     .vlan_tag = std::nullopt,
                                     .external_ids = interface_external_ids(step->nic, false)});
  if (!placed) return std::move(placed).error().within("quarantine the port");
  return ok();
}

Result<void> OvsPortDriver::remove(ResourceBinding& binding, const ResourceContext& context) {
  auto step = load_step(binding, context);
  if (!step) return std::move(step).error();
  const NicBindingState& state = step->state;
  announcer_.stop(state.netns, state.tap);
  auto client = client_for(state.db, context);
  if (!client) return std::move(client).error();
  OvsBridge bridges(**client, context.timeout);
  auto existing = bridges.find_port(state.tap);
  if (!existing) return std::move(existing).error();
  if (*existing && !(*existing)->bridge.empty()) {
    if (auto deleted = bridges.delete_port((*existing)->bridge, state.tap); !deleted) {
      return std::move(deleted).error();
    }
  }
  auto tap =
      run_in_network_namespace(state.netns, [&] { return delete_persistent_tap(state.tap); });
  if (!tap) return std::move(tap).error().within("host " + context.host);
  return ok();
}

Result<void> OvsPortDriver::release(ResourceBinding& binding, const ResourceContext& context) {
  return remove(binding, context);
}

Result<void> OvsPortDriver::rollback(ResourceBinding& binding, const ResourceContext& context) {
  return remove(binding, context);
}

int OvsPortDriver::announcement_rounds_sent(const ResourceBinding& binding) const {
  auto state = NicBindingState::from_json(binding.state, binding.spec.id);
  return state ? announcer_.rounds_sent(state->netns, state->tap) : 0;
}

std::shared_ptr<ResourceDriver> make_ovs_port_driver() {
  return std::make_shared<OvsPortDriver>();
}

}  // namespace ferry::ovs
