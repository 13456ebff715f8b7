#include "apps/ferry/migration_follower.h"

#include <fmt/format.h>

#include "apps/ferry/exit_codes.h"

namespace ferry::cli {

Result<nlohmann::json> follow_migration(ApiClient& client, const nlohmann::json& request,
                                        ProgressDisplay& display) {
  auto started = client.call("POST", "/v1/migrations", request);
  if (!started) return std::move(started).error();
  if (started->status >= 300) {
    const auto& e = started->body.contains("error") ? started->body["error"] : started->body;
    return Error(Errc::rejected, e.value("message", started->body.dump()));
  }
  const std::string id = started->body.value("id", "");
  nlohmann::json final;
  auto streamed =
      client.stream("/v1/migrations/" + id + "/events", [&](const nlohmann::json& event) {
        display.update(event);
        const std::string kind = event.value("event", "");
        if (kind == "completed" || kind == "failed") {
          final = event["stats"];
          return false;
        }
        return true;
      });
  display.finish();
  if (final.is_null()) {
    // The stream broke before the end: ask for the job's state once.
    auto state = client.call("GET", "/v1/migrations/" + id);
    if (state && state->status == 200) return state->body["stats"];
    if (!streamed) return std::move(streamed).error();
    return Error(Errc::connection_lost, "the agent closed the event stream before the job ended");
  }
  return final;
}

int exit_code_for(const nlohmann::json& stats, bool verify) {
  const std::string status = stats.value("status", "");
  if (status != "completed") {
    return stats.value("vm-location", "").rfind("unknown", 0) == 0 ? kExitOutcomeUnknown
                                                                   : kExitFailed;
  }
  if (verify && !(stats.contains("verification") && stats["verification"].value("verified", false)))
    return kExitNotVerified;
  return kExitOk;
}

}  // namespace ferry::cli
