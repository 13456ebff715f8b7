// Shared by the QEMU tests: skipping when QEMU or the test guest is missing, a private run
// directory and /dev/shm RAM file names that the fixture removes, and small serial-line parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "engine/vm/qemu/qemu_vm.h"

namespace ferry::test {

// Empty when the tests can run; otherwise why not.
std::string qemu_unavailable_reason();

// Prints "SKIPPED: <reason>" and skips the test when QEMU or the guest kernel is missing.
#define FERRY_REQUIRE_QEMU()                                       \
  do {                                                             \
    std::string reason = ::ferry::test::qemu_unavailable_reason(); \
    if (!reason.empty()) {                                         \
      std::printf("SKIPPED: %s\n", reason.c_str());                \
      GTEST_SKIP() << reason;                                      \
    }                                                              \
  } while (0)

class QemuTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A RAM file path in /dev/shm, unique to this test; removed in TearDown().
  std::string ram_path(std::string_view tag);
  // A run directory under the test's temporary directory.
  std::string run_dir(std::string_view tag) const { return root_ + "/" + std::string(tag); }
  QemuVmSpec guest_spec(std::string name, uint64_t memory_mib, std::string append) const;
  QemuLaunch guest_launch(std::string_view tag, bool with_preload = false);

  std::string root_;
  std::vector<std::string> ram_files_;
};

// "key=123" in a guest report line.
std::optional<int64_t> field(std::string_view line, std::string_view key);
// The n-th space-separated word (0-based) of a line, as a number: "HB 12 3400" -> word 1 = 12.
std::optional<uint64_t> word(std::string_view line, std::size_t n);

}  // namespace ferry::test
