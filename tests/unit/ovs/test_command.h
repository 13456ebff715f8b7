// Runs a program for a test fixture and captures what it printed.
#pragma once

#include <string>
#include <vector>

#include "engine/error/error.h"

namespace ferry::ovs {

struct CommandOutput {
  int exit_status = -1;  // the exit code, or 128 + signal number
  std::string output;    // stdout and stderr, interleaved
};

// Runs argv[0] (looked up in PATH) with its arguments, without a shell, and waits for it. An Error
// only when it could not be started; a non-zero exit is in the result.
Result<CommandOutput> run_command(const std::vector<std::string>& argv);

// Runs it and turns a non-zero exit into an Error quoting the command and its output.
Result<std::string> run_checked(const std::vector<std::string>& argv);

}  // namespace ferry::ovs
