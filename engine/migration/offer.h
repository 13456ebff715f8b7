// What the source proposes in OFFER: the guest, its memory layout and how it will be sent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

struct RegionLayout {
  uint32_t id = 0;
  std::string name;
  uint64_t size = 0;
};

struct Offer {
  std::string session;  // random, names the job on both hosts; data connections quote it
  std::string vm_name;
  std::string vm_kind;  // "sim", "qemu"
  nlohmann::json vm_spec;
  std::vector<RegionLayout> regions;
  uint32_t streams = 1;
  bool verify =
      false;  // destination keeps per-page hashes and the guest checks itself after resume
  std::string source_host;
  // The VM's resources (ResourceSpec::params of each) and what the source saw of each
  // ({"<id>": facts}); the destination maps them to its own access before accepting.
  nlohmann::json resources = nlohmann::json::array();
  nlohmann::json resource_facts = nlohmann::json::object();

  nlohmann::json to_json() const;
  static Result<Offer> from_json(const nlohmann::json& json);
};

// 128 random bits as 32 hex digits.
std::string new_session_id();

}  // namespace ferry
