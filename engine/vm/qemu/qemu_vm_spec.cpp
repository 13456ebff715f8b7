#include "engine/vm/qemu/qemu_vm_spec.h"

#include <algorithm>
#include <array>
#include <string_view>

#include <fmt/format.h>

namespace ferry {

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

Error field_error(std::string_view field, std::string_view problem) {
  return Error(Errc::invalid_argument, fmt::format("QEMU VM spec field '{}': {}", field, problem));
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

Result<std::string> string_field(const nlohmann::json& json, std::string_view field) {
  const auto& value = json.at(std::string(field));
  if (!value.is_string())
    return field_error(field, fmt::format("must be a string, got {}", value.type_name()));
  return value.get<std::string>();
}

Result<uint64_t> unsigned_field(const nlohmann::json& json, std::string_view field) {
  const auto& value = json.at(std::string(field));
  // JSON has no unsigned type: a literal 2 parses as a signed integer.
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    return field_error(field, fmt::format("must be a non-negative integer, got {}", value.dump()));
  }
  return value.get<uint64_t>();
}

}  // namespace

Result<void> QemuVmSpec::validate() const {
  if (name.empty() || name.size() > 64) return field_error("name", "must have 1 to 64 characters");
  if (!std::all_of(name.begin(), name.end(), is_name_char)) {
    return field_error("name",
                       fmt::format("'{}' has characters other than A-Z a-z 0-9 . _ -", name));
  }
  if (memory_bytes < 16 * kMiB) {
    return field_error("memory_bytes",
                       fmt::format("{} is below the minimum of 16 MiB", memory_bytes));
  }
  if (memory_bytes % kMiB != 0) {
    return field_error("memory_bytes", fmt::format("{} is not a multiple of 1 MiB", memory_bytes));
  }
  if (vcpus < 1 || vcpus > 255)
    return field_error("vcpus", fmt::format("{} is not in 1..255", vcpus));
  if (kernel.empty()) return field_error("kernel", "is empty");
  if (has_nul(kernel) || has_nul(append) || has_nul(cpu)) {
    return field_error(has_nul(kernel)   ? "kernel"
                       : has_nul(append) ? "append"
                                         : "cpu",
                       "contains a NUL character");
  }
  for (std::size_t i = 0; i < extra_args.size(); ++i) {
    if (has_nul(extra_args[i])) {
      return field_error("extra_args", fmt::format("argument {} contains a NUL character", i));
    }
  }
  return ok();
}

Result<QemuVmSpec> QemuVmSpec::from_json(const nlohmann::json& json) {
  if (!json.is_object()) {
    return Error(Errc::invalid_argument,
                 fmt::format("QEMU VM spec: must be a JSON object, got {}", json.type_name()));
  }
  static constexpr std::array<std::string_view, 8> kKnown = {
      "name", "memory_bytes", "vcpus", "kernel", "append", "cpu", "extra_args", "test_guest"};
  for (const auto& [key, value] : json.items()) {
    if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
      return field_error(key, "is not a known field");
    }
  }
  for (std::string_view required : {"name", "memory_bytes", "kernel"}) {
    if (!json.contains(std::string(required))) return field_error(required, "is missing");
  }

  QemuVmSpec spec;
  auto name = string_field(json, "name");
  if (!name) return std::move(name).error();
  spec.name = *name;
  auto memory = unsigned_field(json, "memory_bytes");
  if (!memory) return std::move(memory).error();
  spec.memory_bytes = *memory;
  auto kernel = string_field(json, "kernel");
  if (!kernel) return std::move(kernel).error();
  spec.kernel = *kernel;
  if (json.contains("vcpus")) {
    auto vcpus = unsigned_field(json, "vcpus");
    if (!vcpus) return std::move(vcpus).error();
    if (*vcpus > 255) return field_error("vcpus", fmt::format("{} is not in 1..255", *vcpus));
    spec.vcpus = static_cast<uint32_t>(*vcpus);
  }
  for (auto [field, target] : {std::pair{"append", &spec.append}, std::pair{"cpu", &spec.cpu}}) {
    if (!json.contains(field)) continue;
    auto value = string_field(json, field);
    if (!value) return std::move(value).error();
    *target = *value;
  }
  if (json.contains("extra_args")) {
    const auto& args = json["extra_args"];
    if (!args.is_array()) return field_error("extra_args", "must be an array of strings");
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (!args[i].is_string()) {
        return field_error("extra_args", fmt::format("element {} is not a string", i));
      }
      spec.extra_args.push_back(args[i].get<std::string>());
    }
  }
  if (json.contains("test_guest")) {
    if (!json["test_guest"].is_boolean()) return field_error("test_guest", "must be true or false");
    spec.test_guest = json["test_guest"].get<bool>();
  }
  auto valid = spec.validate();
  if (!valid) return std::move(valid).error();
  return spec;
}

nlohmann::json QemuVmSpec::to_json() const {
  return {{"name", name},
          {"memory_bytes", memory_bytes},
          {"vcpus", vcpus},
          {"kernel", kernel},
          {"append", append},
          {"cpu", cpu},
          {"extra_args", extra_args},
          {"test_guest", test_guest}};
}

QemuRunFiles QemuRunFiles::in(const std::string& run_dir) {
  return {run_dir + "/qmp.sock",        run_dir + "/serial.sock", run_dir + "/serial.log",
          run_dir + "/serial-host.log", run_dir + "/qemu.log",    run_dir + "/uffd.sock"};
}

}  // namespace ferry
