#include "engine/vm/sim/guest_state.h"

#include <fmt/format.h>

#include "engine/memory/page.h"

namespace ferry::sim {
namespace {

constexpr const char* kFormat = "ferry-sim-guest/1";

Result<uint64_t> read_u64(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  // A JSON number built from a signed C++ integer is "integer", not "unsigned", even when >= 0.
  if (it == j.end() || !it->is_number_integer() ||
      (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
    return Error(Errc::invalid_argument,
                 fmt::format("guest state: field '{}' is missing or not an unsigned number", key));
  }
  return it->get<uint64_t>();
}

}  // namespace

ContentModel GuestState::model() const {
  return {seed, pattern, memory / kPageSize, wss / kPageSize, fill / kPageSize, content};
}

Result<void> GuestState::validate() const {
  auto bad = [](std::string what) { return Error(Errc::invalid_argument, "guest state: " + what); };
  if (memory < kPageSize || memory % kPageSize != 0) {
    return bad(fmt::format("memory {} is not a positive multiple of 4096 bytes", memory));
  }
  if (wss < kPageSize || wss % kPageSize != 0 || wss > memory) {
    return bad(fmt::format("working set {} is not a multiple of 4096 bytes in [4096, memory {}]",
                           wss, memory));
  }
  if (fill % kPageSize != 0 || fill > memory) {
    return bad(
        fmt::format("fill {} is not a multiple of 4096 bytes in [0, memory {}]", fill, memory));
  }
  if (rate_mib < -1) return bad(fmt::format("dirty rate {} MiB/s is below -1", rate_mib));
  return ok();
}

nlohmann::json GuestState::to_json() const {
  return {{"format", kFormat},
          {"seed", seed},
          {"writes", writes},
          {"pattern", pattern_name(pattern)},
          {"wss", wss},
          {"memory", memory},
          {"fill", fill},
          {"rate", rate_mib},
          {"content", content_name(content)}};
}

Result<GuestState> GuestState::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Error(Errc::invalid_argument, "guest state: not a JSON object");
  if (j.value("format", "") != kFormat) {
    return Error(Errc::invalid_argument, fmt::format("guest state: format is not '{}'", kFormat));
  }
  GuestState s;
  for (auto [key, field] :
       {std::pair{"seed", &s.seed}, std::pair{"writes", &s.writes}, std::pair{"wss", &s.wss},
        std::pair{"memory", &s.memory}, std::pair{"fill", &s.fill}}) {
    auto value = read_u64(j, key);
    if (!value) return std::move(value).error();
    *field = *value;
  }
  auto pattern_it = j.find("pattern");
  if (pattern_it == j.end() || !pattern_it->is_string()) {
    return Error(Errc::invalid_argument, "guest state: field 'pattern' is missing");
  }
  auto pattern = parse_pattern(pattern_it->get<std::string>());
  if (!pattern) {
    return Error(Errc::invalid_argument,
                 "guest state: unknown pattern '" + pattern_it->get<std::string>() + "'");
  }
  s.pattern = *pattern;
  auto rate_it = j.find("rate");
  if (rate_it == j.end() || !rate_it->is_number_integer()) {
    return Error(Errc::invalid_argument, "guest state: field 'rate' is missing or not an integer");
  }
  s.rate_mib = rate_it->get<int64_t>();
  // Absent in states written before the field existed: those guests are random.
  if (auto content_it = j.find("content"); content_it != j.end()) {
    auto content =
        content_it->is_string() ? parse_content(content_it->get<std::string>()) : std::nullopt;
    if (!content) {
      return Error(Errc::invalid_argument,
                   "guest state: field 'content' is not \"random\" or \"compressible\"");
    }
    s.content = *content;
  }
  if (auto valid = s.validate(); !valid) return std::move(valid).error();
  return s;
}

}  // namespace ferry::sim
