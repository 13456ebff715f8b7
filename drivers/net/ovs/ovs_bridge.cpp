#include "drivers/net/ovs/ovs_bridge.h"

#include <fmt/format.h>

#include "drivers/net/ovs/ovsdb_operations.h"

namespace ferry::ovs {

namespace {

constexpr std::string_view kDb = "Open_vSwitch";

Json name_is(std::string_view name) {
  return Json::array({condition("name", "==", Json(name))});
}

// The "rows" of a select's result.
Result<Json> select_rows(const Json& result, std::string_view what) {
  const auto rows = result.find("rows");
  if (!result.is_object() || rows == result.end() || !rows->is_array()) {
    return Error(Errc::protocol, fmt::format("select {}: reply without a \"rows\" array: {}", what,
                                             result.dump().substr(0, 200)));
  }
  return *rows;
}

// A precondition that `table` has exactly the rows named `name` (want_present) or none of them.
Json wait_for_name(std::string_view table, std::string_view name, bool want_present) {
  Json rows = Json::array();
  if (want_present) rows.push_back({{"name", name}});
  return op::wait(table, name_is(name), {"name"}, true, std::move(rows), 0);
}

Result<std::optional<std::int64_t>> optional_integer(const Json& value, std::string_view what) {
  const auto atom = datum::optional_atom(value);
  if (!atom) return std::optional<std::int64_t>();
  if (!atom->is_number_integer()) {
    return Error(Errc::protocol,
                 fmt::format("{}: expected an integer, got {}", what, atom->dump()));
  }
  return std::optional<std::int64_t>(atom->get<std::int64_t>());
}

}  // namespace

Result<Json> OvsBridge::transact_and_apply(Json operations,
                                           std::optional<TransactFailure>* failure) {
  operations.push_back(
      op::mutate("Open_vSwitch", Json::array(), Json::array({mutation("next_cfg", "+=", 1)})));
  operations.push_back(op::select("Open_vSwitch", Json::array(), {"next_cfg"}));
  auto result = client_.transact(kDb, operations, failure);
  if (!result) return result;
  auto rows = select_rows(result->back(), "Open_vSwitch next_cfg");
  if (!rows) return std::move(rows).error();
  if (rows->size() != 1 || !(*rows)[0].contains("next_cfg") ||
      !(*rows)[0]["next_cfg"].is_number_integer()) {
    return Error(Errc::protocol,
                 fmt::format("transaction on {} at {}: expected one Open_vSwitch row with an "
                             "integer next_cfg, got {}",
                             kDb, client_.remote(), rows->dump().substr(0, 200)));
  }
  const auto next_cfg = (*rows)[0]["next_cfg"].get<std::int64_t>();
  if (auto applied = client_.wait_for_cur_cfg(next_cfg, apply_timeout_); !applied) {
    return std::move(applied).error();
  }
  return result;
}

Result<PortInfo> OvsBridge::add_port(const PortSpec& spec) {
  const std::string where =
      fmt::format("add port {} to bridge {} at {}", spec.name, spec.bridge, client_.remote());
  if (spec.bridge.empty() || spec.name.empty()) {
    return Error(Errc::invalid_argument, where + ": bridge and port names must not be empty");
  }
  if (spec.vlan_tag && (*spec.vlan_tag < 0 || *spec.vlan_tag > 4095)) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: VLAN tag {} is outside 0..4095", where, *spec.vlan_tag));
  }
  Json interface_row = {{"name", spec.name}, {"type", spec.type}};
  if (!spec.external_ids.empty()) interface_row["external_ids"] = datum::map(spec.external_ids);
  Json port_row = {{"name", spec.name}, {"interfaces", datum::named_uuid("ferry_iface")}};
  if (spec.vlan_tag) port_row["tag"] = *spec.vlan_tag;

  // The two waits make the transaction refuse, atomically, a missing bridge or an existing port.
  Json operations = Json::array({
      wait_for_name("Bridge", spec.bridge, true),
      wait_for_name("Port", spec.name, false),
      op::insert("Interface", std::move(interface_row), "ferry_iface"),
      op::insert("Port", std::move(port_row), "ferry_port"),
      op::mutate("Bridge", name_is(spec.bridge),
                 Json::array(
                     {mutation("ports", "insert", datum::set({datum::named_uuid("ferry_port")}))})),
      op::comment(fmt::format("ferry: add port {} to bridge {}", spec.name, spec.bridge)),
  });
  std::optional<TransactFailure> failure;
  auto applied = transact_and_apply(std::move(operations), &failure);
  if (!applied) {
    if (failure && failure->op_index == 0) {
      return Error(Errc::not_found, where + ": bridge " + spec.bridge + " does not exist");
    }
    if (failure && failure->op_index == 1) {
      auto existing = find_port(spec.name);
      const std::string on = existing && *existing && !(*existing)->bridge.empty()
                                 ? " on bridge " + (*existing)->bridge
                                 : std::string();
      return Error(Errc::invalid_argument,
                   fmt::format("{}: a port named {} already exists{}", where, spec.name, on));
    }
    return std::move(applied).error().within(where);
  }

  auto info = find_port(spec.name);
  if (!info) return std::move(info).error().within(where);
  if (!*info) {
    return Error(Errc::internal, where + ": the port is missing right after its transaction");
  }
  PortInfo port = std::move(**info);
  if (port.ofport == -1 || !port.interface_error.empty()) {
    // A port ovs-vswitchd cannot open would sit in the database doing nothing: take it out again.
    const std::string reason = port.interface_error.empty() ? "ofport is -1" : port.interface_error;
    auto removed = delete_port(spec.bridge, spec.name);
    std::string message =
        fmt::format("{}: ovs-vswitchd could not open interface {} (type \"{}\"): {}", where,
                    spec.name, spec.type, reason);
    if (!removed) message += "; removing the port again failed too: " + removed.error().message();
    return Error(Errc::io, std::move(message));
  }
  return port;
}

Result<void> OvsBridge::delete_port(std::string_view bridge, std::string_view port) {
  const std::string where =
      fmt::format("delete port {} from bridge {} at {}", port, bridge, client_.remote());
  auto info = find_port(port);
  if (!info) return std::move(info).error().within(where);
  if (!*info) {
    auto exists = bridge_exists(bridge);
    if (!exists) return std::move(exists).error().within(where);
    if (!*exists) {
      return Error(Errc::not_found, where + ": bridge " + std::string(bridge) + " does not exist");
    }
    return ok();  // already gone
  }
  if ((*info)->bridge != bridge) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: the port is on bridge {}", where,
                             (*info)->bridge.empty() ? "(none)" : (*info)->bridge));
  }
  Json operations = Json::array({
      wait_for_name("Bridge", bridge, true),
      op::mutate(
          "Bridge", name_is(bridge),
          Json::array({mutation("ports", "delete", datum::set({datum::uuid((*info)->uuid)}))})),
      op::comment(fmt::format("ferry: delete port {} from bridge {}", port, bridge)),
  });
  std::optional<TransactFailure> failure;
  auto applied = transact_and_apply(std::move(operations), &failure);
  if (!applied) {
    if (failure && failure->op_index == 0) {
      return Error(Errc::not_found, where + ": bridge " + std::string(bridge) + " does not exist");
    }
    return std::move(applied).error().within(where);
  }
  return ok();
}

Result<std::optional<PortInfo>> OvsBridge::find_port(std::string_view port) {
  const std::string where = fmt::format("find port {} at {}", port, client_.remote());
  Json operations = Json::array({
      op::select("Port", name_is(port), {"_uuid", "name", "tag"}),
      op::select("Interface", name_is(port), {"type", "external_ids", "ofport", "error"}),
      // A condition cannot name a uuid selected in the same transaction: read all bridges.
      op::select("Bridge", Json::array(), {"name", "ports"}),
  });
  auto result = client_.transact(kDb, std::move(operations));
  if (!result) return std::move(result).error().within(where);

  auto ports = select_rows((*result)[0], "Port");
  auto interfaces = select_rows((*result)[1], "Interface");
  auto bridges = select_rows((*result)[2], "Bridge");
  for (auto* rows : {&ports, &interfaces, &bridges}) {
    if (!*rows) return std::move(*rows).error().within(where);
  }
  if (ports->empty()) return std::optional<PortInfo>();

  PortInfo info;
  const Json& port_row = (*ports)[0];
  auto uuid = datum::uuid_string(port_row.value("_uuid", Json()));
  if (!uuid) return std::move(uuid).error().within(where + ": Port _uuid");
  info.uuid = std::move(*uuid);
  info.name = port_row.value("name", std::string());
  auto tag = optional_integer(port_row.value("tag", datum::empty_set()), "Port tag");
  if (!tag) return std::move(tag).error().within(where);
  if (*tag) info.vlan_tag = static_cast<int>(**tag);

  if (!interfaces->empty()) {
    const Json& interface_row = (*interfaces)[0];
    info.type = interface_row.value("type", std::string());
    auto ids = datum::string_map(interface_row.value("external_ids", Json()));
    if (!ids) return std::move(ids).error().within(where + ": Interface external_ids");
    info.external_ids = std::move(*ids);
    auto ofport =
        optional_integer(interface_row.value("ofport", datum::empty_set()), "Interface ofport");
    if (!ofport) return std::move(ofport).error().within(where);
    info.ofport = *ofport;
    if (auto error = datum::optional_atom(interface_row.value("error", datum::empty_set()));
        error && error->is_string()) {
      info.interface_error = error->get<std::string>();
    }
  }

  for (const Json& bridge_row : *bridges) {
    for (const Json& element : datum::set_elements(bridge_row.value("ports", datum::empty_set()))) {
      auto member = datum::uuid_string(element);
      if (member && *member == info.uuid) info.bridge = bridge_row.value("name", std::string());
    }
  }
  return std::optional<PortInfo>(std::move(info));
}

Result<std::optional<BridgeInfo>> OvsBridge::find_bridge(std::string_view bridge) {
  const std::string where = fmt::format("look up bridge {} at {}", bridge, client_.remote());
  auto result = client_.transact(
      kDb, Json::array({op::select("Bridge", name_is(bridge),
                                   {"name", "datapath_type", "fail_mode", "external_ids"})}));
  if (!result) return std::move(result).error().within(where);
  auto rows = select_rows((*result)[0], "Bridge");
  if (!rows) return std::move(rows).error().within(where);
  if (rows->empty()) return std::optional<BridgeInfo>();
  const Json& row = (*rows)[0];
  BridgeInfo info;
  info.name = row.value("name", std::string());
  info.datapath_type = row.value("datapath_type", std::string());
  if (auto mode = datum::optional_atom(row.value("fail_mode", datum::empty_set()));
      mode && mode->is_string()) {
    info.fail_mode = mode->get<std::string>();
  }
  auto ids = datum::string_map(row.value("external_ids", Json()));
  if (!ids) return std::move(ids).error().within(where + ": Bridge external_ids");
  info.external_ids = std::move(*ids);
  return std::optional<BridgeInfo>(std::move(info));
}

Result<void> OvsBridge::add_bridge(const BridgeSpec& spec) {
  const std::string where = fmt::format("add bridge {} at {}", spec.name, client_.remote());
  if (spec.name.empty()) return Error(Errc::invalid_argument, where + ": empty bridge name");
  Json bridge_row = {{"name", spec.name},
                     {"ports", datum::named_uuid("ferry_port")},
                     {"datapath_type", spec.datapath_type}};
  if (!spec.fail_mode.empty()) bridge_row["fail_mode"] = spec.fail_mode;
  if (!spec.external_ids.empty()) bridge_row["external_ids"] = datum::map(spec.external_ids);
  Json operations = Json::array({
      wait_for_name("Bridge", spec.name, false),
      op::insert("Interface", {{"name", spec.name}, {"type", "internal"}}, "ferry_iface"),
      op::insert("Port", {{"name", spec.name}, {"interfaces", datum::named_uuid("ferry_iface")}},
                 "ferry_port"),
      op::insert("Bridge", std::move(bridge_row), "ferry_bridge"),
      op::mutate("Open_vSwitch", Json::array(),
                 Json::array({mutation("bridges", "insert",
                                       datum::set({datum::named_uuid("ferry_bridge")}))})),
      op::comment(fmt::format("ferry: add bridge {}", spec.name)),
  });
  std::optional<TransactFailure> failure;
  auto applied = transact_and_apply(std::move(operations), &failure);
  if (!applied) {
    if (failure && failure->op_index == 0) {
      return Error(Errc::invalid_argument, where + ": a bridge of that name exists");
    }
    return std::move(applied).error().within(where);
  }
  return ok();
}

Result<PortInfo> OvsBridge::place_port(std::string_view port, const PortPlacement& placement) {
  const std::string where =
      fmt::format("put port {} on bridge {} at {}", port, placement.bridge, client_.remote());
  if (placement.vlan_tag && (*placement.vlan_tag < 0 || *placement.vlan_tag > 4095)) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: VLAN tag {} is outside 0..4095", where, *placement.vlan_tag));
  }
  auto found = find_port(port);
  if (!found) return std::move(found).error().within(where);
  if (!*found) return Error(Errc::not_found, where + ": the port does not exist");
  const PortInfo& current = **found;
  const Json port_uuid = datum::uuid(current.uuid);

  Json operations = Json::array({wait_for_name("Bridge", placement.bridge, true)});
  if (current.bridge != placement.bridge) {
    if (!current.bridge.empty()) {
      // Refuses the move if someone moved the port since we looked.
      operations.push_back(
          op::wait("Bridge",
                   Json::array({condition("name", "==", Json(current.bridge)),
                                condition("ports", "includes", datum::set({port_uuid}))}),
                   {"name"}, true, Json::array({{{"name", current.bridge}}}), 0));
      operations.push_back(
          op::mutate("Bridge", name_is(current.bridge),
                     Json::array({mutation("ports", "delete", datum::set({port_uuid}))})));
    }
    operations.push_back(
        op::mutate("Bridge", name_is(placement.bridge),
                   Json::array({mutation("ports", "insert", datum::set({port_uuid}))})));
  }
  operations.push_back(
      op::update("Port", Json::array({condition("_uuid", "==", port_uuid)}),
                 {{"tag", placement.vlan_tag ? Json(*placement.vlan_tag) : datum::empty_set()}}));
  operations.push_back(op::update("Interface", name_is(port),
                                  {{"external_ids", datum::map(placement.external_ids)}}));
  operations.push_back(
      op::comment(fmt::format("ferry: put port {} on bridge {}", port, placement.bridge)));
  std::optional<TransactFailure> failure;
  auto applied = transact_and_apply(std::move(operations), &failure);
  if (!applied) {
    if (failure && failure->op_index == 0) {
      return Error(Errc::not_found, where + ": bridge " + placement.bridge + " does not exist");
    }
    if (failure && failure->op_index == 1 && !current.bridge.empty() &&
        current.bridge != placement.bridge) {
      return Error(
          Errc::invalid_argument,
          fmt::format("{}: the port left bridge {} while being moved", where, current.bridge));
    }
    return std::move(applied).error().within(where);
  }
  auto placed = find_port(port);
  if (!placed) return std::move(placed).error().within(where);
  if (!*placed) return Error(Errc::internal, where + ": the port vanished after the move");
  return std::move(**placed);
}

Result<void> OvsBridge::settle() {
  auto applied = transact_and_apply(Json::array(), nullptr);
  if (!applied) {
    return std::move(applied).error().within(
        fmt::format("wait for ovs-vswitchd at {} to settle", client_.remote()));
  }
  return ok();
}

Result<bool> OvsBridge::bridge_exists(std::string_view bridge) {
  auto result =
      client_.transact(kDb, Json::array({op::select("Bridge", name_is(bridge), {"name"})}));
  if (!result) {
    return std::move(result).error().within(
        fmt::format("look up bridge {} at {}", bridge, client_.remote()));
  }
  auto rows = select_rows((*result)[0], "Bridge");
  if (!rows) return std::move(rows).error();
  return !rows->empty();
}

}  // namespace ferry::ovs
