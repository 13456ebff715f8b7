// The JSON shape every API error takes: {"error":{"code":"not_found","message":"no VM web-1"}}.
// The code is errc_name() of an Errc, so the CLI can turn it back into the same Errc.
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

nlohmann::json api_error_body(Errc code, std::string_view message);
nlohmann::json api_error_body(const Error& error);

// The Errc whose errc_name() is `name`; nullopt for a name this build does not know.
std::optional<Errc> errc_from_name(std::string_view name);

// The Error an error body describes, or nullopt when `body` does not have the error shape.
std::optional<Error> error_from_api_body(const nlohmann::json& body);

}  // namespace ferry
