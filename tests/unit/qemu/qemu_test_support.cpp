#include "tests/unit/qemu/qemu_test_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

namespace ferry::test {

namespace fs = std::filesystem;

std::string qemu_unavailable_reason() {
  bool found = false;
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!found) {
      auto colon = rest.find(':');
      std::string dir(rest.substr(0, colon));
      found = ::access((dir + "/qemu-system-x86_64").c_str(), X_OK) == 0;
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  if (!found) return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)";
  if (!fs::exists(FERRY_TEST_GUEST_PATH)) {
    return std::string("the test guest ") + FERRY_TEST_GUEST_PATH +
           " was not built (needs gcc-multilib)";
  }
  return "";
}

void QemuTest::SetUp() {
  char pattern[] = "/tmp/ferry-qemu-test-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  root_ = pattern;
}

void QemuTest::TearDown() {
  std::error_code ec;
  for (const auto& file : ram_files_) fs::remove(file, ec);
  if (!root_.empty()) fs::remove_all(root_, ec);
}

std::string QemuTest::ram_path(std::string_view tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string path = fmt::format("/dev/shm/ferry-qemu-test-{}-{}-{}", ::getpid(),
                                 info ? info->name() : "test", tag);
  ram_files_.push_back(path);
  return path;
}

QemuVmSpec QemuTest::guest_spec(std::string name, uint64_t memory_mib, std::string append) const {
  QemuVmSpec spec;
  spec.name = std::move(name);
  spec.memory_bytes = memory_mib << 20;
  spec.kernel = FERRY_TEST_GUEST_PATH;
  spec.append = std::move(append);
  spec.test_guest = true;
  return spec;
}

QemuLaunch QemuTest::guest_launch(std::string_view tag, bool with_preload) {
  QemuLaunch launch;
  launch.run_dir = run_dir(tag);
  launch.ram_path = ram_path(tag);
  launch.accel = "auto";
  if (with_preload) launch.preload_library = FERRY_UFFD_PRELOAD_LIBRARY;
  return launch;
}

std::optional<int64_t> field(std::string_view line, std::string_view key) {
  std::string needle = " " + std::string(key) + "=";
  auto at = line.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(at + needle.size());
  bool negative = !rest.empty() && rest[0] == '-';
  if (negative) rest.remove_prefix(1);
  int64_t value = 0;
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
    value = value * 10 + (rest[digits++] - '0');
  }
  if (digits == 0) return std::nullopt;
  return negative ? -value : value;
}

std::optional<uint64_t> word(std::string_view line, std::size_t n) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < n; ++i) {
    start = line.find(' ', start);
    if (start == std::string_view::npos) return std::nullopt;
    ++start;
  }
  uint64_t value = 0;
  std::size_t end = start;
  while (end < line.size() && line[end] >= '0' && line[end] <= '9') {
    value = value * 10 + static_cast<uint64_t>(line[end++] - '0');
  }
  if (end == start) return std::nullopt;
  return value;
}

}  // namespace ferry::test
