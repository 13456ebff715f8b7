// Exit codes of the ferry command line (documented in docs/operations.md).
#pragma once

namespace ferry::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the operation failed; a migrated VM is still on the source
inline constexpr int kExitUsage = 2;   // bad command line
inline constexpr int kExitAgent = 3;   // no agent, or the agent refused the request
inline constexpr int kExitNotVerified = 4;  // migrated, but verification failed
inline constexpr int kExitOutcomeUnknown =
    5;  // the guest is paused on the source pending a decision

}  // namespace ferry::cli
