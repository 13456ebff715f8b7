#include "engine/vm/sim/sim_spec.h"

#include <fmt/format.h>

#include "engine/memory/page.h"
#include "engine/vm/sim/content_model.h"
#include "engine/vm/sim/echo_responder.h"

namespace ferry {
namespace {

Error bad_spec(const std::string& name, const std::string& what) {
  return Error(Errc::invalid_argument, fmt::format("sim VM '{}': {}", name, what));
}

template <typename T>
Result<void> read_field(const nlohmann::json& j, const char* key, T& out, const std::string& name) {
  auto it = j.find(key);
  if (it == j.end()) return ok();  // optional: the default stays
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return bad_spec(name, fmt::format("field '{}' has the wrong type ({})", key, it->type_name()));
  }
  if constexpr (std::is_unsigned_v<T>) {
    if (!it->is_number_integer() || (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
      return bad_spec(name, fmt::format("field '{}' must be a non-negative integer", key));
    }
  } else if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) {
      return bad_spec(name, fmt::format("field '{}' must be an integer", key));
    }
  }
  return ok();
}

}  // namespace

Result<void> SimSpec::validate() const {
  if (name.empty()) return bad_spec(name, "name is empty");
  if (memory < (uint64_t{1} << 20) || memory % kPageSize != 0) {
    return bad_spec(name,
                    fmt::format("memory {} must be a multiple of 4096 and at least 1 MiB", memory));
  }
  if (dirty_rate_mib < -1) {
    return bad_spec(name, fmt::format("dirty rate {} MiB/s must be >= -1", dirty_rate_mib));
  }
  if (!sim::parse_pattern(pattern)) {
    return bad_spec(name, "pattern '" + pattern + "' is not uniform, hot or sequential");
  }
  if (!sim::parse_content(content)) {
    return bad_spec(name, "content '" + content + "' is not random or compressible");
  }
  if (wss % kPageSize != 0 || wss > memory) {
    return bad_spec(
        name, fmt::format("working set {} must be a multiple of 4096 and at most memory {}", wss,
                          memory));
  }
  if (fill && (*fill % kPageSize != 0 || *fill > memory)) {
    return bad_spec(name, fmt::format("fill {} must be a multiple of 4096 and at most memory {}",
                                      *fill, memory));
  }
  if (nic) {
    if (nic->tap.empty() || nic->tap.size() > 15) {
      return bad_spec(name, "nic.tap \"" + nic->tap + "\" must have 1..15 characters");
    }
    if (nic->netns.find('/') != std::string::npos) {
      return bad_spec(name, "nic.netns \"" + nic->netns + "\" must not contain '/'");
    }
    if (auto address = sim::parse_nic_address(nic->mac, nic->ip); !address) {
      return bad_spec(name, "nic: " + address.error().message());
    }
  }
  return ok();
}

nlohmann::json SimSpec::to_json() const {
  nlohmann::json j = {{"name", name},       {"memory", memory}, {"dirty_rate_mib", dirty_rate_mib},
                      {"pattern", pattern}, {"wss", wss},       {"seed", seed}};
  if (fill) j["fill"] = *fill;
  if (content != "random") j["content"] = content;
  if (nic) {
    j["nic"] = {{"tap", nic->tap}, {"mac", nic->mac}, {"ip", nic->ip}};
    if (!nic->netns.empty()) j["nic"]["netns"] = nic->netns;
  }
  return j;
}

Result<SimSpec> SimSpec::from_json(const nlohmann::json& j) {
  SimSpec spec;
  if (!j.is_object()) return bad_spec("", "spec is not a JSON object");
  if (auto r = read_field(j, "name", spec.name, spec.name); !r) return std::move(r).error();
  for (auto r :
       {read_field(j, "memory", spec.memory, spec.name),
        read_field(j, "dirty_rate_mib", spec.dirty_rate_mib, spec.name),
        read_field(j, "pattern", spec.pattern, spec.name),
        read_field(j, "wss", spec.wss, spec.name), read_field(j, "seed", spec.seed, spec.name)}) {
    if (!r) return std::move(r).error();
  }
  if (j.contains("content")) {
    if (auto r = read_field(j, "content", spec.content, spec.name); !r) return std::move(r).error();
  }
  if (j.contains("fill") && !j["fill"].is_null()) {
    uint64_t fill = 0;
    if (auto r = read_field(j, "fill", fill, spec.name); !r) return std::move(r).error();
    spec.fill = fill;
  }
  if (j.contains("nic") && !j["nic"].is_null()) {
    const auto& nic = j["nic"];
    if (!nic.is_object()) return bad_spec(spec.name, "field 'nic' must be an object");
    SimNic parsed;
    for (auto [key, out] : {std::pair{"tap", &parsed.tap}, std::pair{"mac", &parsed.mac},
                            std::pair{"ip", &parsed.ip}, std::pair{"netns", &parsed.netns}}) {
      if (auto r = read_field(nic, key, *out, spec.name); !r) return std::move(r).error();
    }
    spec.nic = std::move(parsed);
  }
  if (auto valid = spec.validate(); !valid) return std::move(valid).error();
  return spec;
}

}  // namespace ferry
