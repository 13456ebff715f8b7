// The agent's configuration file (JSON), documented in docs/operations.md:
//   {"host-name": "hosta", "listen": "10.0.0.1:7460", "state-dir": "/run/ferry",
//    "ram-dir": "/dev/shm", "io-threads": 2, "io-timeout-ms": 10000,
//    "tls": {"ca": "/etc/ferry/ca.pem", "cert": "/etc/ferry/hosta.pem", "key":
//    "/etc/ferry/hosta-key.pem"}, "insecure": false, "resources": {"nfs": {...}, "iscsi": {...},
//    "ovs": {...}}}
// Every key is optional; an unknown key is an error (a typo must not silently change nothing).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/control/agent_config.h"
#include "engine/error/error.h"

namespace ferry {

// Applies the document's keys to `config`; errors name the file and the key.
Result<void> apply_agent_config(const nlohmann::json& document, std::string_view origin,
                                AgentConfig& config);
Result<void> load_agent_config_file(const std::string& path, AgentConfig& config);

}  // namespace ferry
