#include "drivers/net/ovs/nic_config.h"

#include <fmt/format.h>

namespace ferry::ovs {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

// A typo in a host configuration should fail loudly, not fall back to a default.
Result<void> only_known_keys(const Json& object, std::initializer_list<std::string_view> known,
                             std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (const auto name : known) found = found || key == name;
    if (!found) {
      return Error(Errc::invalid_argument, fmt::format("{}: unknown key \"{}\"", where, key));
    }
  }
  return ok();
}

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxInterfaceName || name == "." || name == "..") return false;
  for (const char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c > '~') return false;
  }
  return true;
}

Result<std::string> string_member(const Json& object, const char* key, std::string_view where,
                                  bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (!required) return std::string();
    return Error(Errc::invalid_argument, fmt::format("{}: \"{}\" is missing", where, key));
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: \"{}\" must be a non-empty string, not {}", where, key, it->dump()));
  }
  return it->get<std::string>();
}

Result<std::chrono::milliseconds> milliseconds_member(const Json& object, const char* key,
                                                      std::chrono::milliseconds fallback,
                                                      std::string_view where) {
  const auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 60'000) {
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: \"{}\" must be milliseconds in 0..60000, not {}", where, key, it->dump()));
  }
  return std::chrono::milliseconds(it->get<std::int64_t>());
}

Result<AnnounceSchedule> parse_announce(const Json& object, std::string_view where) {
  AnnounceSchedule schedule;
  if (!object.is_object()) {
    return Error(Errc::invalid_argument, fmt::format("{}: must be an object", where));
  }
  if (auto known = only_known_keys(object, {"rounds", "initial-ms", "step-ms"}, where); !known) {
    return std::move(known).error();
  }
  if (const auto rounds = object.find("rounds"); rounds != object.end()) {
    if (!rounds->is_number_integer() || rounds->get<std::int64_t>() < 1 ||
        rounds->get<std::int64_t>() > 100) {
      return Error(Errc::invalid_argument,
                   fmt::format("{}: \"rounds\" must be 1..100, not {}", where, rounds->dump()));
    }
    schedule.rounds = rounds->get<int>();
  }
  auto initial = milliseconds_member(object, "initial-ms", schedule.initial, where);
  if (!initial) return std::move(initial).error();
  auto step = milliseconds_member(object, "step-ms", schedule.step, where);
  if (!step) return std::move(step).error();
  schedule.initial = *initial;
  schedule.step = *step;
  return schedule;
}

Result<NetworkMapping> parse_mapping(const Json& value, std::string_view where) {
  if (!value.is_object()) {
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: must be an object like {{\"bridge\": \"br-int\", \"tag\": 10}}", where));
  }
  if (auto known = only_known_keys(value, {"bridge", "tag"}, where); !known) {
    return std::move(known).error();
  }
  NetworkMapping mapping;
  auto bridge = string_member(value, "bridge", where, true);
  if (!bridge) return std::move(bridge).error();
  mapping.bridge = std::move(*bridge);
  if (const auto tag = value.find("tag"); tag != value.end() && !tag->is_null()) {
    if (!tag->is_number_integer() || tag->get<std::int64_t>() < 0 ||
        tag->get<std::int64_t>() > 4095) {
      return Error(
          Errc::invalid_argument,
          fmt::format("{}: \"tag\" must be a VLAN id 0..4095, not {}", where, tag->dump()));
    }
    mapping.tag = tag->get<int>();
  }
  return mapping;
}

}  // namespace

std::string derived_tap_name(const MacAddress& mac) {
  return fmt::format("ft{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

Result<NicSpec> parse_nic_spec(const ResourceSpec& spec) {
  const std::string where = fmt::format("NIC {}", spec.id);
  const Json& params = spec.params;
  if (!params.is_object()) {
    return Error(Errc::invalid_argument, where + ": the description is not a JSON object");
  }
  NicSpec nic;
  nic.id = spec.id;
  auto network = string_member(params, "network", where, true);
  if (!network) return std::move(network).error();
  nic.network = std::move(*network);

  auto mac_text = string_member(params, "mac", where, true);
  if (!mac_text) return std::move(mac_text).error();
  auto mac = parse_mac(*mac_text);
  if (!mac) return std::move(mac).error().within(where);
  nic.mac = *mac;

  auto ip_text = string_member(params, "ip", where, false);
  if (!ip_text) return std::move(ip_text).error();
  if (!ip_text->empty()) {
    auto ip = parse_ipv4(*ip_text);
    if (!ip) return std::move(ip).error().within(where);
    nic.ip = *ip;
  }

  auto tap = string_member(params, "tap", where, false);
  if (!tap) return std::move(tap).error();
  nic.tap = tap->empty() ? derived_tap_name(nic.mac) : std::move(*tap);
  if (!valid_interface_name(nic.tap)) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: tap name \"{}\" is not a valid interface name (1..{} printable "
                             "characters, no '/', ':' or space)",
                             where, nic.tap, kMaxInterfaceName));
  }

  if (const auto ids = params.find("external-ids"); ids != params.end() && !ids->is_null()) {
    if (!ids->is_object()) {
      return Error(Errc::invalid_argument,
                   where + ": \"external-ids\" must be an object of strings");
    }
    for (const auto& [key, value] : ids->items()) {
      if (!value.is_string()) {
        return Error(Errc::invalid_argument,
                     fmt::format("{}: external-ids \"{}\" must be a string, not {}", where, key,
                                 value.dump()));
      }
      nic.external_ids.emplace(key, value.get<std::string>());
    }
  }
  return nic;
}

Result<OvsHostConfig> parse_ovs_host_config(const nlohmann::json& host_config,
                                            std::string_view host) {
  const std::string where = fmt::format("host {} configuration \"resources\".\"ovs\"", host);
  const auto section = host_config.is_object() ? host_config.find("ovs") : host_config.end();
  if (!host_config.is_object() || section == host_config.end()) {
    return Error(Errc::not_found,
                 fmt::format("host {} has no \"ovs\" section in its resources configuration: "
                             "Open vSwitch networks are not configured here",
                             host));
  }
  if (!section->is_object()) return Error(Errc::invalid_argument, where + ": must be an object");

  if (auto known = only_known_keys(
          *section, {"db", "networks", "netns", "quarantine-bridge", "announce"}, where);
      !known) {
    return std::move(known).error();
  }
  OvsHostConfig config;
  auto db = string_member(*section, "db", where, true);
  if (!db) return std::move(db).error();
  config.db = std::move(*db);
  auto netns = string_member(*section, "netns", where, false);
  if (!netns) return std::move(netns).error();
  config.netns = std::move(*netns);
  auto quarantine = string_member(*section, "quarantine-bridge", where, false);
  if (!quarantine) return std::move(quarantine).error();
  if (!quarantine->empty()) config.quarantine_bridge = std::move(*quarantine);
  if (!valid_interface_name(config.quarantine_bridge)) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: \"quarantine-bridge\" \"{}\" is not a valid interface name",
                             where, config.quarantine_bridge));
  }

  const auto networks = section->find("networks");
  if (networks == section->end() || !networks->is_object()) {
    return Error(Errc::invalid_argument,
                 where + ": \"networks\" must be an object mapping network names to bridges");
  }
  for (const auto& [name, value] : networks->items()) {
    auto mapping = parse_mapping(value, fmt::format("{}: network \"{}\"", where, name));
    if (!mapping) return std::move(mapping).error();
    if (mapping->bridge == config.quarantine_bridge) {
      return Error(Errc::invalid_argument,
                   fmt::format("{}: network \"{}\" maps to the quarantine bridge {}", where, name,
                               mapping->bridge));
    }
    config.networks.emplace(name, std::move(*mapping));
  }
  if (const auto announce = section->find("announce"); announce != section->end()) {
    auto schedule = parse_announce(*announce, where + ": \"announce\"");
    if (!schedule) return std::move(schedule).error();
    config.announce = *schedule;
  }
  return config;
}

std::map<std::string, std::string> interface_external_ids(const NicSpec& nic, bool active) {
  std::map<std::string, std::string> ids = nic.external_ids;
  ids["attached-mac"] = format_mac(nic.mac);
  ids["iface-status"] = active ? "active" : "inactive";
  ids.emplace("iface-id", nic.id);
  return ids;
}

}  // namespace ferry::ovs
