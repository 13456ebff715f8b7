#include "drivers/storage/nfs/nfs_location.h"

#include <fmt/format.h>

#include <string_view>

namespace ferry::nfs {

namespace {

Error config_error(std::string_view where, std::string_view what) {
  return Error(Errc::invalid_argument, fmt::format("{}: {}", where, what));
}

Result<std::string> string_field(const nlohmann::json& json, const char* key,
                                 std::string_view where) {
  if (!json.is_object() || !json.contains(key) || !json.at(key).is_string() ||
      json.at(key).get_ref<const std::string&>().empty())
    return config_error(where, fmt::format("\"{}\" must be a non-empty string", key));
  return json.at(key).get<std::string>();
}

Result<std::optional<uint16_t>> port_field(const nlohmann::json& json, const char* key,
                                           std::string_view where) {
  if (!json.contains(key) || json.at(key).is_null()) return std::optional<uint16_t>();
  const auto& value = json.at(key);
  if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 65535)
    return config_error(where, fmt::format("\"{}\" must be a port number (1-65535)", key));
  return std::optional<uint16_t>(static_cast<uint16_t>(value.get<int64_t>()));
}

// An image path must stay inside its export: relative, no empty, "." or ".." components.
Result<void> check_image_path(const std::string& image, std::string_view where) {
  if (image.front() == '/')
    return config_error(where,
                        fmt::format("image \"{}\" must be relative to the repository", image));
  if (image.find('\0') != std::string::npos)
    return config_error(where, "image path contains a NUL byte");
  std::string_view rest = image;
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..")
      return config_error(
          where, fmt::format("image \"{}\" has an empty, \".\" or \"..\" component", image));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return {};
}

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Percent-encodes everything but unreserved characters and the path separator.
std::string encode_path(std::string_view path) {
  std::string out;
  for (const char c : path) {
    if (unreserved(c) || c == '/')
      out += c;
    else
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

std::string url_host(const std::string& server) {
  // An IPv6 literal needs brackets in a URL.
  if (server.find(':') != std::string::npos && server.front() != '[') return "[" + server + "]";
  return server;
}

}  // namespace

std::string NfsExport::display() const {
  return server + ":" + export_path;
}

nlohmann::json NfsExport::to_json() const {
  nlohmann::json out = {{"server", server}, {"export", export_path}};
  if (nfs_port) out["nfs-port"] = *nfs_port;
  if (mount_port) out["mount-port"] = *mount_port;
  return out;
}

Result<NfsExport> NfsExport::from_json(const nlohmann::json& json, std::string_view where) {
  if (!json.is_object()) return config_error(where, "must be an object");
  NfsExport out;
  auto server = string_field(json, "server", where);
  if (!server) return std::move(server).error();
  out.server = std::move(server).value();
  if (out.server.find_first_of("/ \t\n") != std::string::npos)
    return config_error(where,
                        fmt::format("server \"{}\" is not a host name or address", out.server));
  auto export_path = string_field(json, "export", where);
  if (!export_path) return std::move(export_path).error();
  out.export_path = std::move(export_path).value();
  if (out.export_path.front() != '/')
    return config_error(where,
                        fmt::format("export \"{}\" must be an absolute path", out.export_path));
  while (out.export_path.size() > 1 && out.export_path.back() == '/') out.export_path.pop_back();
  auto nfs_port = port_field(json, "nfs-port", where);
  if (!nfs_port) return std::move(nfs_port).error();
  out.nfs_port = nfs_port.value();
  auto mount_port = port_field(json, "mount-port", where);
  if (!mount_port) return std::move(mount_port).error();
  out.mount_port = mount_port.value();
  return out;
}

std::string NfsImageLocation::display() const {
  return where.display() + (where.export_path == "/" ? "" : "/") + image;
}

nlohmann::json NfsImageLocation::to_json() const {
  return {{"sr", repository}, {"where", where.to_json()}, {"image", image}};
}

Result<NfsImageLocation> NfsImageLocation::from_json(const nlohmann::json& json) {
  constexpr std::string_view where = "nfs binding state";
  NfsImageLocation out;
  auto repository = string_field(json, "sr", where);
  if (!repository) return std::move(repository).error();
  out.repository = std::move(repository).value();
  if (!json.contains("where")) return config_error(where, "\"where\" is missing");
  auto export_ = NfsExport::from_json(json.at("where"), where);
  if (!export_) return std::move(export_).error();
  out.where = std::move(export_).value();
  auto image = string_field(json, "image", where);
  if (!image) return std::move(image).error();
  out.image = std::move(image).value();
  if (auto checked = check_image_path(out.image, where); !checked)
    return std::move(checked).error();
  return out;
}

Result<NfsImageLocation> resolve_image(const nlohmann::json& resource_params,
                                       const nlohmann::json& nfs_host_config) {
  NfsImageLocation out;
  auto repository = string_field(resource_params, "sr", "VM description");
  if (!repository) return std::move(repository).error();
  out.repository = std::move(repository).value();
  auto image = string_field(resource_params, "image", "VM description");
  if (!image) return std::move(image).error();
  out.image = std::move(image).value();
  if (auto checked = check_image_path(out.image, "VM description"); !checked)
    return std::move(checked).error();

  if (!nfs_host_config.is_object() || !nfs_host_config.contains("repositories") ||
      !nfs_host_config.at("repositories").is_object())
    return config_error("host configuration", "resources.nfs.repositories is missing");
  const auto& repositories = nfs_host_config.at("repositories");
  if (!repositories.contains(out.repository)) {
    std::string known;
    for (const auto& [name, _] : repositories.items()) known += (known.empty() ? "" : ", ") + name;
    return Error(Errc::not_found,
                 fmt::format("host configuration: resources.nfs.repositories has no storage "
                             "repository \"{}\" (known: {})",
                             out.repository, known.empty() ? "none" : known));
  }
  auto export_ = NfsExport::from_json(
      repositories.at(out.repository),
      fmt::format("host configuration: resources.nfs.repositories.{}", out.repository));
  if (!export_) return std::move(export_).error();
  out.where = std::move(export_).value();
  return out;
}

std::optional<std::string> libnfs_port_url(const NfsExport& where) {
  if (!where.nfs_port && !where.mount_port) return std::nullopt;
  std::string url = "nfs://" + url_host(where.server) + encode_path(where.export_path);
  char separator = '?';
  if (where.nfs_port) {
    url += fmt::format("{}nfsport={}", separator, *where.nfs_port);
    separator = '&';
  }
  if (where.mount_port) url += fmt::format("{}mountport={}", separator, *where.mount_port);
  return url;
}

std::string qemu_drive(const NfsImageLocation& location) {
  std::string path = location.where.export_path;
  if (path.back() != '/') path += '/';
  path += location.image;
  return fmt::format("file=nfs://{}{},format=raw", url_host(location.where.server),
                     encode_path(path));
}

}  // namespace ferry::nfs
