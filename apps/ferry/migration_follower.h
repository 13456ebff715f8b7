// Starts a migration through the agent's API and follows its event stream to the end.
#pragma once

#include <nlohmann/json.hpp>

#include "apps/ferry/api_client.h"
#include "apps/ferry/progress_display.h"
#include "engine/error/error.h"

namespace ferry::cli {

// Returns the final statistics (status "completed", "failed" or "cancelled").
Result<nlohmann::json> follow_migration(ApiClient& client, const nlohmann::json& request,
                                        ProgressDisplay& display);

// The exit code that a migration's final statistics call for.
int exit_code_for(const nlohmann::json& stats, bool verify);

}  // namespace ferry::cli
