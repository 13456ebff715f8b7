#include "drivers/storage/local/local_disk_location.h"

#include <fmt/format.h>

namespace ferry::local {

Result<LocalDiskLocation> locate_local_disk(const ResourceSpec& spec,
                                            const ResourceContext& context) {
  const auto section = context.host_config.find("local");
  if (section == context.host_config.end() || !section->is_object())
    return Error(Errc::invalid_argument,
                 fmt::format("host {} has no \"local\" section in its resources configuration",
                             context.host));
  const auto directory = section->find("directory");
  if (directory == section->end() || !directory->is_string() ||
      !directory->get<std::string>().starts_with("/"))
    return Error(
        Errc::invalid_argument,
        fmt::format("host {}: resources.local.directory must be an absolute path", context.host));
  const auto image = spec.params.find("image");
  if (image == spec.params.end() || !image->is_string() || image->get<std::string>().empty())
    return Error(Errc::invalid_argument,
                 "\"image\" (a path relative to the disk directory) is "
                 "required");
  const std::string relative = image->get<std::string>();
  if (relative.starts_with("/") || relative.find(',') != std::string::npos ||
      relative.find('\0') != std::string::npos)
    return Error(Errc::invalid_argument,
                 fmt::format("image \"{}\" must be relative and hold no ','", relative));
  std::size_t start = 0;
  while (start <= relative.size()) {
    const std::size_t end = std::min(relative.find('/', start), relative.size());
    const std::string part = relative.substr(start, end - start);
    if (part == ".." || part == "." || part.empty())
      return Error(
          Errc::invalid_argument,
          fmt::format("image \"{}\" must not hold empty, '.' or '..' components", relative));
    start = end + 1;
  }
  LocalDiskLocation location;
  location.directory = directory->get<std::string>();
  while (location.directory.size() > 1 && location.directory.ends_with("/"))
    location.directory.pop_back();
  location.image = relative;
  location.path = location.directory + "/" + relative;
  return location;
}

std::string local_qemu_drive(const LocalDiskLocation& location) {
  return fmt::format("file={},format=raw", location.path);
}

Result<uint64_t> size_from_facts(const nlohmann::json& facts, const std::string& resource_id) {
  const auto size = facts.is_object() ? facts.find("size") : facts.end();
  if (!facts.is_object() || size == facts.end() || !size->is_number_integer() ||
      size->get<int64_t>() <= 0 || size->get<uint64_t>() % 512 != 0)
    return Error(Errc::protocol,
                 fmt::format("the source's facts for local disk {} hold no size in whole sectors: "
                             "{}",
                             resource_id, facts.dump()));
  return size->get<uint64_t>();
}

}  // namespace ferry::local
