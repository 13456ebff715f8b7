#include "apps/ferry/journal_logging.h"

#include <cstdlib>
#include <memory>
#include <string_view>

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

namespace ferry::cli {
namespace {

// syslog priorities: 3 err, 4 warning, 6 info, 7 debug.
class JournalPriority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view prefix = "<6>";
    switch (msg.level) {
      case spdlog::level::critical:
        prefix = "<2>";
        break;
      case spdlog::level::err:
        prefix = "<3>";
        break;
      case spdlog::level::warn:
        prefix = "<4>";
        break;
      case spdlog::level::debug:
      case spdlog::level::trace:
        prefix = "<7>";
        break;
      default:
        break;
    }
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPriority>();
  }
};

}  // namespace

bool use_journal_format_under_systemd() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream || !*stream) return false;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JournalPriority>('*').set_pattern("%*%v");
  spdlog::set_formatter(std::move(formatter));
  return true;
}

}  // namespace ferry::cli
