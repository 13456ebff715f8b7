#include "apps/ferry/progress_display.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "engine/precopy/human_units.h"

namespace ferry::cli {

ProgressDisplay::Mode ProgressDisplay::choose(bool json) {
  if (json) return Mode::json;
  return ::isatty(STDOUT_FILENO) ? Mode::bar : Mode::lines;
}

void ProgressDisplay::update(const nlohmann::json& event) {
  if (mode_ == Mode::json) {
    fmt::print("{}\n", event.dump());
    std::fflush(stdout);
    return;
  }
  if (event.value("event", "") != "progress") return;
  const auto& s = event["stats"];
  const double total = s.value("total", 0.0);
  const double sent = (s.value("normal", 0.0) + s.value("duplicate", 0.0)) * 4096;
  const double remaining = s.value("remaining", 0.0);
  const int round = s.value("round", 0);
  const std::string phase = s.value("phase", "");
  if (mode_ == Mode::lines) {
    if (round == last_round_ || s.value("status", "") == "setup") return;
    last_round_ = round;
    fmt::print("{}: {} sent, {} remaining, {:.0f} Mbit/s, dirty {}/s, expected downtime {} ms\n",
               phase, format_bytes(sent), format_bytes(remaining), s.value("mbps", 0.0),
               format_bytes(s.value("dirty-pages-rate", 0.0) * 4096),
               s.value("expected-downtime", 0));
    std::fflush(stdout);
    return;
  }
  // Round 0 fills the bar by pages sent; later rounds show how much is left.
  double fraction =
      round == 0 ? (total > 0 ? sent / total : 0) : 1.0 - (total > 0 ? remaining / total : 0);
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int width = 30;
  const int filled = static_cast<int>(fraction * width);
  fmt::print("\r[{}{}] {:3.0f}%  round {}  {:>8.0f} Mbit/s  remaining {:>10}  {}    ",
             std::string(filled, '#'), std::string(width - filled, '.'), fraction * 100, round,
             s.value("mbps", 0.0), format_bytes(remaining), phase);
  std::fflush(stdout);
  drew_bar_ = true;
}

void ProgressDisplay::finish() {
  if (drew_bar_) fmt::print("\n");
}

void print_summary(const nlohmann::json& s) {
  const std::string status = s.value("status", "?");
  fmt::print("status:       {}\n", status);
  if (s.contains("error")) fmt::print("error:        {}\n", s.value("error", ""));
  fmt::print("vm location:  {}\n", s.value("vm-location", "?"));
  fmt::print("total time:   {}\n", format_duration_ms(s.value("total-time", 0.0)));
  fmt::print("downtime:     {}\n", format_duration_ms(s.value("downtime", 0.0)));
  fmt::print("rounds:       {}\n", s.value("round", 0) + 1);
  fmt::print("transferred:  {} ({} pages with data, {} zero pages)\n",
             format_bytes(s.value("transferred", 0.0)), s.value("normal", 0),
             s.value("duplicate", 0));
  if (s.contains("verification")) {
    const auto& v = s["verification"];
    fmt::print("verified:     {} (memory {}, guest self-check {})\n",
               v.value("verified", false) ? "yes" : "NO",
               v.value("memory-equal", false) ? "equal" : "DIFFERS",
               v.contains("guest") && v["guest"].value("ok", false) ? "OK" : "FAILED");
  }
}

}  // namespace ferry::cli
