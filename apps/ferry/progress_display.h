// Shows a migration's progress events: a progress bar on a terminal, one line per round otherwise,
// or the events themselves as JSON lines (--json).
#pragma once

#include <nlohmann/json.hpp>

namespace ferry::cli {

class ProgressDisplay {
 public:
  enum class Mode { bar, lines, json };
  explicit ProgressDisplay(Mode mode) : mode_(mode) {}
  static Mode choose(bool json);

  void update(const nlohmann::json& event);
  void finish();

 private:
  Mode mode_;
  int last_round_ = -1;
  bool drew_bar_ = false;
};

// Prints the human summary of a finished migration's statistics.
void print_summary(const nlohmann::json& stats);

}  // namespace ferry::cli
