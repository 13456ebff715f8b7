// Log lines the systemd journal understands: when the agent's output goes to the journal
// ($JOURNAL_STREAM is set), each line is "<priority>message" (sd-daemon(3)): journald keeps the
// level and adds its own timestamps, so spdlog's are left out.
#pragma once

namespace ferry::cli {

// True when it switched spdlog to the journal format.
bool use_journal_format_under_systemd();

}  // namespace ferry::cli
