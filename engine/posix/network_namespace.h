// Running code inside a named network namespace (/run/netns/NAME, as `ip netns` makes them): for
// agents that run outside the namespace of the Open vSwitch they drive, and guests started in it.
#pragma once

#include <functional>
#include <string>

#include "engine/error/error.h"

namespace ferry {

// Runs `body` on a short-lived thread that joined namespace `netns`, and returns its result;
// runs it on the calling thread when `netns` is empty. The calling thread's namespace never
// changes, so the caller's other sockets and threads are unaffected.
Result<void> run_in_network_namespace(const std::string& netns,
                                      const std::function<Result<void>()>& body);

// Moves the calling thread into namespace `netns` for good (no-op when empty): for threads of
// our own that live there.
Result<void> enter_network_namespace(const std::string& netns);

}  // namespace ferry
