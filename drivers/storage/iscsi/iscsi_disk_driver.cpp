#include "drivers/storage/iscsi/iscsi_disk_driver.h"

#include <fmt/format.h>

#include <optional>

#include "drivers/storage/iscsi/iscsi_disk_config.h"
#include "drivers/storage/iscsi/lun_identity.h"
#include "drivers/storage/iscsi/lun_ownership.h"
#include "drivers/storage/iscsi/reservation_key.h"
#include "drivers/storage/iscsi/scsi_commands.h"

namespace ferry::iscsi {

namespace {

Deadline deadline_of(const ResourceContext& context) {
  return std::chrono::steady_clock::now() + context.timeout;
}

// Tries the portals in order, giving each an equal share of what is left of the deadline, so an
// unreachable first portal cannot use up the time of the others.
Result<std::unique_ptr<IscsiSession>> login_any(const IscsiDiskConfig& config, Deadline deadline) {
  std::vector<Error> errors;
  for (std::size_t i = 0; i < config.portals.size(); ++i) {
    const auto now = std::chrono::steady_clock::now();
    const auto share = (deadline - now) / static_cast<long>(config.portals.size() - i);
    const Deadline attempt_deadline = now >= deadline ? deadline : now + share;
    auto session = IscsiSession::login(
        SessionAddress{config.initiator, config.portals[i], config.target, config.lun},
        attempt_deadline);
    if (session) return session;
    errors.push_back(std::move(session).error());
  }
  if (errors.size() == 1) return std::move(errors.front());
  std::string message = fmt::format("none of the {} portals reached the LUN", errors.size());
  for (const auto& error : errors) message += "; " + error.message();
  return Error(errors.front().code(), message);
}

struct BindingState {
  std::string session_id;
  std::optional<std::uint64_t> source_key;
};

Result<BindingState> binding_state(const ResourceBinding& binding) {
  const auto& state = binding.state;
  BindingState parsed;
  if (!state.is_object() || !state.contains("session") || !state.at("session").is_string())
    return Error(Errc::invalid_argument,
                 "the binding has no iSCSI session id: it was not made by this driver's prepare");
  parsed.session_id = state.at("session").get<std::string>();
  if (state.contains("source-key") && !state.at("source-key").is_null()) {
    auto key = parse_reservation_key(state.at("source-key"), "binding state \"source-key\"");
    if (!key) return std::move(key).error();
    parsed.source_key = key.value();
  }
  return parsed;
}

// The session a prepared binding keeps, or a new login when it is gone (the agent restarted, a
// timeout broke it). A new session is a new I_T nexus: the steps below re-register as needed.
Result<std::unique_ptr<IscsiSession>> session_for(IscsiSessionTable& sessions,
                                                  const std::string& id,
                                                  const IscsiDiskConfig& config,
                                                  Deadline deadline) {
  if (auto session = sessions.take(id); session && session->usable()) return session;
  return login_any(config, deadline);
}

// What every step after prepare starts from: the binding's configuration and state, and its
// session (to be put back in the table when the step is done with it).
struct OpenBinding {
  Deadline deadline;
  IscsiDiskConfig config;
  BindingState state;
  std::unique_ptr<IscsiSession> session;
};

Result<OpenBinding> open_binding(IscsiSessionTable& sessions, const ResourceBinding& binding,
                                 const ResourceContext& context) {
  const Deadline deadline = deadline_of(context);
  auto config = iscsi_disk_config(binding.spec, context.host_config);
  if (!config) return std::move(config).error();
  auto state = binding_state(binding);
  if (!state) return std::move(state).error();
  auto session = session_for(sessions, state->session_id, config.value(), deadline);
  if (!session) return std::move(session).error();
  return OpenBinding{deadline, std::move(config).value(), std::move(state).value(),
                     std::move(session).value()};
}

}  // namespace

Result<ResourceBinding> IscsiDiskDriver::prepare(const ResourceSpec& spec,
                                                 const nlohmann::json& source_facts,
                                                 const ResourceContext& context) {
  const Deadline deadline = deadline_of(context);
  auto config = iscsi_disk_config(spec, context.host_config);
  if (!config) return std::move(config).error();

  std::optional<LunIdentity> source_identity;
  std::optional<std::uint64_t> source_key;
  if (!source_facts.is_null()) {
    auto identity = LunIdentity::from_json(source_facts);
    if (!identity) return std::move(identity).error();
    source_identity = std::move(identity).value();
    if (!source_facts.is_object() || !source_facts.contains("reservation-key"))
      return Error(Errc::protocol, "the source's facts carry no \"reservation-key\"");
    auto key = parse_reservation_key(source_facts.at("reservation-key"),
                                     "source facts \"reservation-key\"");
    if (!key) return Error(Errc::protocol, key.error().message());
    source_key = key.value();
    if (*source_key == config->key)
      return Error(Errc::rejected,
                   fmt::format("the source host uses the same reservation key {} as this host "
                               "(initiator {}): every host needs its own initiator name or "
                               "resources.iscsi.reservation-key, or ownership cannot move",
                               format_reservation_key(config->key), config->initiator));
  }

  auto session = login_any(config.value(), deadline);
  if (!session) return std::move(session).error();
  // From here on a refusal logs out again, so a refused prepare leaves nothing behind.
  auto refuse = [&](Error error) -> Error {
    (void)session.value()->logout(deadline);
    return error;
  };

  auto identity = read_lun_identity(*session.value(), deadline);
  if (!identity) return refuse(std::move(identity).error());
  if (auto identifiable = identity.value().check_identifiable(); !identifiable)
    return refuse(Error(Errc::rejected, session.value()->address().describe() + ": " +
                                            identifiable.error().message()));
  if (source_identity) {
    const auto differences = identity_differences(*source_identity, identity.value());
    if (!differences.empty()) {
      std::string message = fmt::format(
          "{} is not the disk the source uses (a wrong mapping of repository \"{}\" on this host?)",
          session.value()->address().describe(), config->repository);
      for (const auto& difference : differences) message += "; " + difference;
      return refuse(Error(Errc::rejected, message));
    }
  }
  if (auto free = check_no_foreign_reservation(*session.value(), config->key, source_key, deadline);
      !free)
    return refuse(std::move(free).error());

  const std::string portal = session.value()->address().portal;
  ResourceBinding binding;
  binding.spec = spec;
  binding.state = {
      {"session", sessions_.new_id(spec.id)},
      {"portal", portal},
      {"initiator", config->initiator},
      {"target", config->target},
      {"lun", config->lun},
      {"reservation-key", format_reservation_key(config->key)},
      {"source-key",
       source_key ? nlohmann::json(format_reservation_key(*source_key)) : nlohmann::json(nullptr)},
      {"ownership", std::string(ownership_name(config->ownership))},
      {"identity", identity.value().to_json()},
  };
  binding.attach = {
      {"qemu-drive", qemu_drive(portal, config->target, config->lun, config->initiator)},
      {"url", iscsi_url(portal, config->target, config->lun)},
      {"initiator-name", config->initiator},
  };
  sessions_.put(binding.state.at("session").get<std::string>(), std::move(session).value());
  return binding;
}

Result<nlohmann::json> IscsiDiskDriver::inspect(const ResourceBinding& binding,
                                                const ResourceContext& context) {
  auto open = open_binding(sessions_, binding, context);
  if (!open) return std::move(open).error();
  auto& [deadline, config, state, session] = open.value();
  auto identity = read_lun_identity(*session, deadline);
  const std::string where = session->address().describe();
  sessions_.put(state.session_id, std::move(session));
  if (!identity) return std::move(identity).error();
  if (auto identifiable = identity.value().check_identifiable(); !identifiable)
    return Error(Errc::rejected, where + ": " + identifiable.error().message());
  nlohmann::json facts = identity.value().to_json();
  facts["reservation-key"] = format_reservation_key(config.key);
  facts["initiator"] = config.initiator;
  return facts;
}

Result<void> IscsiDiskDriver::activate(ResourceBinding& binding, const ResourceContext& context) {
  auto open = open_binding(sessions_, binding, context);
  if (!open) return std::move(open).error();
  auto& [deadline, config, state, session] = open.value();
  auto taken = take_ownership(*session, config.key, state.source_key, config.ownership, deadline);
  sessions_.put(state.session_id, std::move(session));
  if (taken) binding.state.erase("released");
  return taken;
}

Result<void> IscsiDiskDriver::deactivate(ResourceBinding& binding, const ResourceContext& context) {
  auto open = open_binding(sessions_, binding, context);
  if (!open) return std::move(open).error();
  auto& [deadline, config, state, session] = open.value();
  auto given = give_up_ownership(*session, config.key, deadline);
  sessions_.put(state.session_id, std::move(session));
  return given;
}

Result<void> IscsiDiskDriver::release(ResourceBinding& binding, const ResourceContext& context) {
  return finish(binding, context);
}

Result<void> IscsiDiskDriver::rollback(ResourceBinding& binding, const ResourceContext& context) {
  return finish(binding, context);
}

Result<void> IscsiDiskDriver::finish(ResourceBinding& binding, const ResourceContext& context) {
  if (binding.state.is_object() && binding.state.value("released", false)) return ok();
  auto open = open_binding(sessions_, binding, context);
  if (!open) return std::move(open).error();
  auto& [deadline, config, state, session] = open.value();
  // Registrations outlive a logout on most targets (and tgt keeps those of dead sessions), so
  // they are dropped explicitly before leaving.
  auto given = give_up_ownership(*session, config.key, deadline);
  auto logged_out = session->logout(deadline);
  if (!given) return given;
  if (!logged_out) return logged_out;
  binding.state["released"] = true;
  return ok();
}

}  // namespace ferry::iscsi

namespace ferry {

std::shared_ptr<ResourceDriver> make_iscsi_disk_driver() {
  return std::make_shared<iscsi::IscsiDiskDriver>();
}

}  // namespace ferry
