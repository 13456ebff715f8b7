#include "drivers/storage/iscsi/iscsi_disk_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "drivers/storage/iscsi/reservation_key.h"

namespace ferry::iscsi {

namespace {

Error bad(std::string_view where, std::string_view what) {
  return Error(Errc::invalid_argument, fmt::format("{}: {}", where, what));
}

Result<std::string> required_string(const nlohmann::json& object, std::string_view key,
                                    std::string_view where) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string() || it->get<std::string>().empty())
    return bad(where, fmt::format("\"{}\" (a non-empty string) is required", key));
  return it->get<std::string>();
}

Result<Ownership> parse_ownership(const nlohmann::json& value, std::string_view where) {
  if (value.is_string()) {
    const auto text = value.get<std::string>();
    if (text == "registration") return Ownership::registration;
    if (text == "reservation") return Ownership::reservation;
  }
  return bad(where, fmt::format("\"ownership\" must be \"registration\" or \"reservation\", not {}",
                                value.dump()));
}

// "host:port", "host" (port 3260), "[v6]:port" or "[v6]"; nothing that could end a URL part or a
// QEMU option.
Result<std::string> normalized_portal(const nlohmann::json& value, std::string_view where) {
  if (!value.is_string() || value.get<std::string>().empty())
    return bad(where, "each portal must be a non-empty string \"host:port\"");
  std::string portal = value.get<std::string>();
  const bool allowed = std::all_of(portal.begin(), portal.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (!allowed)
    return bad(where, fmt::format("portal \"{}\" has characters a host:port cannot have", portal));
  std::string_view host = portal;
  std::string_view port;
  if (portal.front() == '[') {
    const auto close = portal.find(']');
    if (close == std::string::npos)
      return bad(where, fmt::format("portal \"{}\": unterminated '['", portal));
    host = std::string_view(portal).substr(0, close + 1);
    const auto rest = std::string_view(portal).substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return bad(where, fmt::format("portal \"{}\": expected ':' after ']'", portal));
      port = rest.substr(1);
    }
  } else if (const auto colon = portal.rfind(':'); colon != std::string::npos) {
    if (portal.find(':') != colon)
      return bad(where, fmt::format("portal \"{}\": write an IPv6 address as [addr]:port", portal));
    host = std::string_view(portal).substr(0, colon);
    port = std::string_view(portal).substr(colon + 1);
  }
  if (host.empty() || host == "[]")
    return bad(where, fmt::format("portal \"{}\" has no host", portal));
  if (port.empty() && portal.back() == ':')
    return bad(where, fmt::format("portal \"{}\" has an empty port", portal));
  if (!port.empty()) {
    const bool digits =
        std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
        std::stoi(std::string(port)) > 65535)
      return bad(where, fmt::format("portal \"{}\" has an invalid port", portal));
    return portal;
  }
  return std::string(host) + ":3260";
}

}  // namespace

std::string_view ownership_name(Ownership ownership) {
  return ownership == Ownership::reservation ? "reservation" : "registration";
}

Result<void> check_iscsi_name(std::string_view name, std::string_view where) {
  if (!(name.starts_with("iqn.") || name.starts_with("eui.") || name.starts_with("naa.")))
    return bad(where, fmt::format("\"{}\" is not an iSCSI name (iqn., eui. or naa.)", name));
  if (name.size() > 223)
    return bad(where, fmt::format("iSCSI name \"{}\" is longer than 223 bytes", name));
  // RFC 3720 names: letters, digits, '.', '-', ':'; anything else could break the URL or the
  // QEMU option string they are embedded in.
  const bool allowed = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':';
  });
  if (!allowed)
    return bad(where, fmt::format("iSCSI name \"{}\" has characters other than letters, digits, "
                                  "'.', '-' and ':'",
                                  name));
  return ok();
}

Result<IscsiDiskConfig> iscsi_disk_config(const ResourceSpec& spec,
                                          const nlohmann::json& host_config) {
  IscsiDiskConfig config;
  config.resource = spec.id;
  const std::string spec_where = fmt::format("resource {}", spec.id);
  if (!spec.params.is_object()) return bad(spec_where, "not a JSON object");
  auto repository = required_string(spec.params, "sr", spec_where);
  if (!repository) return std::move(repository).error();
  config.repository = std::move(repository).value();
  auto target = required_string(spec.params, "target", spec_where);
  if (!target) return std::move(target).error();
  config.target = std::move(target).value();
  if (auto valid = check_iscsi_name(config.target, spec_where + ": \"target\""); !valid)
    return std::move(valid).error();
  const auto lun = spec.params.find("lun");
  if (lun == spec.params.end() || !lun->is_number_integer() || lun->get<long long>() < 0 ||
      lun->get<long long>() > 16383)
    return bad(spec_where, "\"lun\" (an integer 0..16383) is required");
  config.lun = lun->get<int>();

  const std::string where = "host configuration resources.iscsi";
  if (!host_config.is_object() || !host_config.contains("iscsi") ||
      !host_config.at("iscsi").is_object())
    return bad(where, "missing: this host has no iSCSI access configured");
  const auto& section = host_config.at("iscsi");
  auto initiator = required_string(section, "initiator", where);
  if (!initiator) return std::move(initiator).error();
  config.initiator = std::move(initiator).value();
  if (auto valid = check_iscsi_name(config.initiator, where + ".initiator"); !valid)
    return std::move(valid).error();
  config.key = reservation_key_for(config.initiator);
  if (section.contains("reservation-key")) {
    auto key = parse_reservation_key(section.at("reservation-key"), where + ".reservation-key");
    if (!key) return std::move(key).error();
    config.key = key.value();
  }
  if (section.contains("ownership")) {
    auto ownership = parse_ownership(section.at("ownership"), where);
    if (!ownership) return std::move(ownership).error();
    config.ownership = ownership.value();
  }

  const std::string repo_where = fmt::format("{}.repositories.{}", where, config.repository);
  const auto repositories = section.find("repositories");
  if (repositories == section.end() || !repositories->is_object() ||
      !repositories->contains(config.repository))
    return Error(Errc::not_found,
                 fmt::format("{}: missing: storage repository \"{}\" (resource {}) is not mapped "
                             "on this host",
                             repo_where, config.repository, spec.id));
  const auto& repo = repositories->at(config.repository);
  if (!repo.is_object()) return bad(repo_where, "must be an object");
  const auto portals = repo.find("portals");
  if (portals == repo.end() || !portals->is_array() || portals->empty())
    return bad(repo_where, "\"portals\" (a non-empty array of \"host:port\") is required");
  for (const auto& portal : *portals) {
    auto normalized = normalized_portal(portal, repo_where + ".portals");
    if (!normalized) return std::move(normalized).error();
    config.portals.push_back(std::move(normalized).value());
  }
  if (repo.contains("ownership")) {
    auto ownership = parse_ownership(repo.at("ownership"), repo_where);
    if (!ownership) return std::move(ownership).error();
    config.ownership = ownership.value();
  }
  return config;
}

std::string iscsi_url(std::string_view portal, std::string_view target, int lun) {
  return fmt::format("iscsi://{}/{}/{}", portal, target, lun);
}

std::string qemu_drive(std::string_view portal, std::string_view target, int lun,
                       std::string_view initiator) {
  return fmt::format("file={},format=raw,file.initiator-name={}", iscsi_url(portal, target, lun),
                     initiator);
}

}  // namespace ferry::iscsi
