#include "engine/control/agent_config_file.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace ferry {

namespace {
Error bad_key(std::string_view origin, std::string_view key, std::string_view why) {
  return Error(Errc::invalid_argument, fmt::format("{}: \"{}\": {}", origin, key, why));
}
}  // namespace

Result<void> apply_agent_config(const nlohmann::json& document, std::string_view origin,
                                AgentConfig& target) {
  AgentConfig config = target;  // all or nothing
  if (!document.is_object())
    return Error(Errc::invalid_argument, fmt::format("{}: not a JSON object", origin));
  for (const auto& [key, value] : document.items()) {
    if (key == "host-name" || key == "listen" || key == "state-dir" || key == "ram-dir" ||
        key == "api-listen") {
      if (!value.is_string() || value.get<std::string>().empty())
        return bad_key(origin, key, "must be a non-empty string");
      const auto text = value.get<std::string>();
      if (key == "host-name") config.host_name = text;
      if (key == "listen") {
        if (text.rfind(':') == std::string::npos) return bad_key(origin, key, "must be HOST:PORT");
        config.listen = text;
      }
      if (key == "api-listen") {
        if (text.rfind(':') == std::string::npos) return bad_key(origin, key, "must be HOST:PORT");
        config.api_listen = text;
      }
      if (key == "state-dir") config.state_dir = text;
      if (key == "ram-dir") config.ram_dir = text;
    } else if (key == "io-threads") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 64)
        return bad_key(origin, key, "must be 1..64");
      config.io_threads = value.get<unsigned>();
    } else if (key == "io-timeout-ms" || key == "resource-timeout-ms") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1)
        return bad_key(origin, key, "must be a positive number of milliseconds");
      const std::chrono::milliseconds ms(value.get<uint64_t>());
      (key == "io-timeout-ms" ? config.io_timeout : config.resource_timeout) = ms;
    } else if (key == "insecure") {
      if (!value.is_boolean()) return bad_key(origin, key, "must be true or false");
      config.insecure = value.get<bool>();
    } else if (key == "tls") {
      if (!value.is_object())
        return bad_key(origin, key,
                       "must be an object {\"ca\": PATH, \"cert\": PATH, \"key\": PATH}");
      TlsFiles files;
      for (const auto& [name, path] : value.items()) {
        if (!path.is_string() || path.get<std::string>().empty())
          return bad_key(origin, "tls." + name, "must be a non-empty path");
        if (name == "ca")
          files.ca = path.get<std::string>();
        else if (name == "cert")
          files.cert = path.get<std::string>();
        else if (name == "key")
          files.key = path.get<std::string>();
        else
          return bad_key(origin, "tls." + name, "unknown key (expected ca, cert, key)");
      }
      if (files.ca.empty() || files.cert.empty() || files.key.empty())
        return bad_key(origin, key, "needs all of \"ca\", \"cert\" and \"key\"");
      config.tls = std::move(files);
    } else if (key == "resources") {
      if (!value.is_object()) return bad_key(origin, key, "must be an object keyed by driver name");
      for (const auto& [driver, section] : value.items()) {
        if (config.resource_drivers && !config.resource_drivers->find(driver))
          return bad_key(origin, "resources." + driver,
                         config.resource_drivers->find(driver).error().message());
        if (!section.is_object())
          return bad_key(origin, "resources." + driver, "must be an object");
      }
      config.host_resources = value;
    } else {
      return bad_key(origin, key, "unknown key");
    }
  }
  target = std::move(config);
  return {};
}

Result<void> load_agent_config_file(const std::string& path, AgentConfig& config) {
  std::ifstream in(path);
  if (!in) return errno_error(fmt::format("reading agent configuration {}", path));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    return Error(Errc::invalid_argument, fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  return apply_agent_config(document, path, config);
}

}  // namespace ferry
