#include "drivers/storage/iscsi/lun_identity.h"

#include <fmt/format.h>

#include <algorithm>

namespace ferry::iscsi {

namespace {

std::string type_name(int type) {
  switch (type) {
    case 0:
      return "vendor specific";
    case 1:
      return "T10 vendor id";
    case 2:
      return "EUI-64";
    case 3:
      return "NAA";
    case 8:
      return "SCSI name";
    default:
      return fmt::format("designator type {}", type);
  }
}

bool printable(const std::string& hex) {
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int byte = std::stoi(hex.substr(i, 2), nullptr, 16);
    if (byte < 0x20 || byte > 0x7e) return false;
  }
  return true;
}

std::string hex_to_text(const std::string& hex) {
  std::string text;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    text.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return text;
}

std::string describe_all(const std::vector<LunDesignator>& designators) {
  if (designators.empty()) return "none";
  std::string text;
  for (const auto& designator : designators)
    text += (text.empty() ? "" : ", ") + designator.describe();
  return text;
}

bool is_hex(const std::string& text) {
  return text.size() % 2 == 0 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string LunDesignator::describe() const {
  if ((code_set == 2 || code_set == 3) && printable(value))
    return fmt::format("{} '{}'", type_name(type), hex_to_text(value));
  return fmt::format("{} {}", type_name(type), value);
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) hex += fmt::format("{:02x}", data[i]);
  return hex;
}

nlohmann::json LunIdentity::to_json() const {
  nlohmann::json designator_list = nlohmann::json::array();
  for (const auto& designator : designators)
    designator_list.push_back({{"type", designator.type},
                               {"code-set", designator.code_set},
                               {"value", designator.value}});
  return {{"vpd83", designator_list},
          {"serial", serial},
          {"block-size", block_size},
          {"blocks", blocks}};
}

Result<LunIdentity> LunIdentity::from_json(const nlohmann::json& json) {
  auto bad = [](std::string_view what) {
    return Error(Errc::protocol, fmt::format("LUN identity from the source: {}", what));
  };
  if (!json.is_object()) return bad("not a JSON object");
  LunIdentity identity;
  const auto list = json.find("vpd83");
  if (list == json.end() || !list->is_array()) return bad("\"vpd83\" must be an array");
  for (const auto& entry : *list) {
    if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_number_integer() ||
        !entry.contains("code-set") || !entry["code-set"].is_number_integer() ||
        !entry.contains("value") || !entry["value"].is_string() ||
        !is_hex(entry["value"].get<std::string>()))
      return bad("each \"vpd83\" entry needs integer \"type\", \"code-set\" and a hex \"value\"");
    identity.designators.push_back(LunDesignator{
        entry["type"].get<int>(), entry["code-set"].get<int>(), entry["value"].get<std::string>()});
  }
  std::sort(identity.designators.begin(), identity.designators.end());
  const auto serial = json.find("serial");
  if (serial == json.end() || !serial->is_string()) return bad("\"serial\" must be a string");
  identity.serial = serial->get<std::string>();
  const auto block_size = json.find("block-size");
  const auto blocks = json.find("blocks");
  if (block_size == json.end() || !block_size->is_number_unsigned() || blocks == json.end() ||
      !blocks->is_number_unsigned())
    return bad("\"block-size\" and \"blocks\" must be unsigned integers");
  if (block_size->get<std::uint64_t>() > UINT32_MAX) return bad("\"block-size\" is too large");
  identity.block_size = block_size->get<std::uint32_t>();
  identity.blocks = blocks->get<std::uint64_t>();
  return identity;
}

Result<void> LunIdentity::check_identifiable() const {
  if (designators.empty() && serial.empty())
    return Error(Errc::rejected,
                 "the LUN reports no logical-unit designator (VPD 0x83) and no unit serial number "
                 "(VPD 0x80): another host could not verify it reaches the same disk");
  return ok();
}

std::vector<std::string> identity_differences(const LunIdentity& source, const LunIdentity& here) {
  std::vector<std::string> differences;
  if (source.designators != here.designators)
    differences.push_back(fmt::format("logical-unit designators (VPD 0x83): source [{}], here [{}]",
                                      describe_all(source.designators),
                                      describe_all(here.designators)));
  if (source.serial != here.serial)
    differences.push_back(fmt::format("unit serial number (VPD 0x80): source '{}', here '{}'",
                                      source.serial, here.serial));
  if (source.block_size != here.block_size || source.blocks != here.blocks)
    differences.push_back(fmt::format(
        "capacity (READ CAPACITY(16)): source {} blocks of {} bytes, here {} blocks of {} bytes",
        source.blocks, source.block_size, here.blocks, here.block_size));
  return differences;
}

}  // namespace ferry::iscsi
