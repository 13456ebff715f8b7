#include "drivers/storage/nfs/nfs_image_facts.h"

#include <fmt/format.h>

namespace ferry::nfs {

nlohmann::json NfsImageFacts::to_json() const {
  nlohmann::json out = {{"fileid", fileid}, {"size", size}, {"fsid", fsid}};
  out["owner"] = owner ? nlohmann::json(*owner) : nlohmann::json(nullptr);
  return out;
}

Result<NfsImageFacts> NfsImageFacts::from_json(const nlohmann::json& json) {
  if (!json.is_object())
    return Error(Errc::protocol, "nfs facts from the source: not an object: " + json.dump());
  NfsImageFacts out;
  for (auto [key, field] : {std::pair{"fileid", &out.fileid}, std::pair{"size", &out.size},
                            std::pair{"fsid", &out.fsid}}) {
    if (!json.contains(key) ||
        !(json.at(key).is_number_unsigned() ||
          (json.at(key).is_number_integer() && json.at(key).get<int64_t>() >= 0)))
      return Error(Errc::protocol, fmt::format("nfs facts from the source: \"{}\" must be an "
                                               "unsigned number in {}",
                                               key, json.dump()));
    *field = json.at(key).get<uint64_t>();
  }
  if (json.contains("owner") && !json.at("owner").is_null()) {
    if (!json.at("owner").is_string())
      return Error(Errc::protocol, "nfs facts from the source: \"owner\" must be a string or null");
    out.owner = json.at("owner").get<std::string>();
  }
  return out;
}

Result<void> check_same_image(const NfsImageFacts& source, const NfsImageFacts& here,
                              std::string_view image) {
  std::string differences;
  auto compare = [&](std::string_view what, uint64_t source_value, uint64_t here_value) {
    if (source_value == here_value) return;
    differences += fmt::format("{}{} {} here, {} on the source", differences.empty() ? "" : "; ",
                               what, here_value, source_value);
  };
  compare("file id", source.fileid, here.fileid);
  compare("size", source.size, here.size);
  compare("fsid", source.fsid, here.fsid);
  if (differences.empty()) return {};
  return Error(Errc::rejected,
               fmt::format("{} is not the file the source uses ({}): this host's mapping of the "
                           "storage repository reaches another file",
                           image, differences));
}

}  // namespace ferry::nfs
