// Runs a fixture script for a test and captures what it printed.
#pragma once

#include <string>
#include <vector>

#include "engine/error/error.h"

namespace ferry::nfs {

// Runs argv[0] (looked up in PATH) without a shell and waits for it; a non-zero exit becomes an
// Error quoting the command and its output (stdout and stderr, interleaved).
Result<std::string> run_fixture_command(const std::vector<std::string>& argv);

}  // namespace ferry::nfs
