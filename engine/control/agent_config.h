// How an agent runs: where it listens, where it keeps state and guest memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/resources/resource_registry.h"
#include "engine/transport/tls_files.h"

namespace ferry {

struct AgentConfig {
  std::string listen = "0.0.0.0:7460";   // peers (other agents) connect here; port 0 picks one
  std::string state_dir = "/run/ferry";  // api.sock, agent.json, vms/<name>/
  // The API also on TCP (HOST:PORT), for a toolstack on another machine: unauthenticated, so a
  // loopback or management address only. Empty: the unix socket only.
  std::string api_listen;
  std::string ram_dir = "/dev/shm";  // guest RAM files
  std::string host_name;             // defaults to the system host name
  unsigned io_threads = 2;
  std::chrono::milliseconds io_timeout{std::chrono::seconds(10)};
  uint16_t protocol_version =
      0;  // 0 = every version we speak; tests force one to provoke a mismatch
  // The resource drivers this program links, and this host's mappings for them (the "resources"
  // section of the host configuration, keyed by driver name).
  std::shared_ptr<const ResourceRegistry> resource_drivers;
  nlohmann::json host_resources = nlohmann::json::object();
  std::chrono::milliseconds resource_timeout{std::chrono::seconds(20)};
  // Peers: mutual TLS with the pool CA and this host's certificate, or, only when `insecure` is
  // set explicitly, plain TCP. With neither the agent refuses to start.
  TlsFiles tls;
  bool insecure = false;
};

}  // namespace ferry
