#include "engine/control/http/api_error.h"

#include <string>

namespace ferry {

nlohmann::json api_error_body(Errc code, std::string_view message) {
  return {{"error", {{"code", std::string(errc_name(code))}, {"message", std::string(message)}}}};
}

nlohmann::json api_error_body(const Error& error) {
  return api_error_body(error.code(), error.message());
}

std::optional<Errc> errc_from_name(std::string_view name) {
  // Errc::internal is the last enumerator (engine/error/error.h).
  for (int i = 0; i <= static_cast<int>(Errc::internal); ++i) {
    auto code = static_cast<Errc>(i);
    if (errc_name(code) == name) return code;
  }
  return std::nullopt;
}

std::optional<Error> error_from_api_body(const nlohmann::json& body) {
  if (!body.is_object()) return std::nullopt;
  auto error = body.find("error");
  if (error == body.end() || !error->is_object()) return std::nullopt;
  auto code = error->find("code");
  auto message = error->find("message");
  if (code == error->end() || !code->is_string()) return std::nullopt;
  std::string text =
      message != error->end() && message->is_string() ? message->get<std::string>() : error->dump();
  // A code from a newer agent still reaches the user, as a protocol error carrying its name.
  auto errc = errc_from_name(code->get<std::string>());
  if (!errc) return Error(Errc::protocol, code->get<std::string>() + ": " + text);
  return Error(*errc, std::move(text));
}

}  // namespace ferry
