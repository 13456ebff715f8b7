// The pure parts: the VM description, the QEMU command line and the accelerator choice.
#include <algorithm>

#include <gtest/gtest.h>

#include "engine/vm/qemu/accelerator.h"
#include "engine/vm/qemu/qemu_command_line.h"
#include "engine/vm/qemu/qemu_vm_spec.h"

namespace ferry {
namespace {

nlohmann::json valid_json() {
  return {{"name", "web-1"},
          {"memory_bytes", 256ull << 20},
          {"vcpus", 2},
          {"kernel", "/boot/guest.elf"},
          {"append", "rate=10 seed=3"},
          {"extra_args", {"-device", "e1000"}},
          {"test_guest", true}};
}

// The value following `option` in args, or "" when absent.
std::string after(const std::vector<std::string>& args, std::string_view option) {
  auto it = std::find(args.begin(), args.end(), option);
  return it != args.end() && it + 1 != args.end() ? *(it + 1) : "";
}

TEST(QemuVmSpec, RoundTripsThroughJson) {
  auto spec = QemuVmSpec::from_json(valid_json());
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  EXPECT_EQ(spec->name, "web-1");
  EXPECT_EQ(spec->memory_bytes, 256ull << 20);
  EXPECT_EQ(spec->vcpus, 2u);
  EXPECT_EQ(spec->extra_args, (std::vector<std::string>{"-device", "e1000"}));
  EXPECT_TRUE(spec->test_guest);
  auto again = QemuVmSpec::from_json(spec->to_json());
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->to_json(), spec->to_json());
}

TEST(QemuVmSpec, DefaultsOptionalFields) {
  auto spec =
      QemuVmSpec::from_json({{"name", "a"}, {"memory_bytes", 64ull << 20}, {"kernel", "/k"}});
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  EXPECT_EQ(spec->vcpus, 1u);
  EXPECT_TRUE(spec->append.empty());
  EXPECT_FALSE(spec->test_guest);
}

void expect_field_error(nlohmann::json json, std::string_view field) {
  auto spec = QemuVmSpec::from_json(json);
  ASSERT_FALSE(spec.ok()) << json.dump();
  EXPECT_EQ(spec.error().code(), Errc::invalid_argument);
  EXPECT_NE(spec.error().message().find("'" + std::string(field) + "'"), std::string::npos)
      << spec.error().message();
}

TEST(QemuVmSpec, ErrorsNameTheField) {
  auto json = valid_json();
  json["memory_bytes"] = (64ull << 20) + 1;
  expect_field_error(json, "memory_bytes");
  json = valid_json();
  json["memory_bytes"] = 8ull << 20;
  expect_field_error(json, "memory_bytes");
  json = valid_json();
  json["memory_bytes"] = "256M";
  expect_field_error(json, "memory_bytes");
  json = valid_json();
  json["name"] = "bad name/with slash";
  expect_field_error(json, "name");
  json = valid_json();
  json["vcpus"] = 0;
  expect_field_error(json, "vcpus");
  json = valid_json();
  json["vcpus"] = -1;
  expect_field_error(json, "vcpus");
  json = valid_json();
  json.erase("kernel");
  expect_field_error(json, "kernel");
  json = valid_json();
  json["extra_args"] = {"-S", 3};
  expect_field_error(json, "extra_args");
  json = valid_json();
  json["test_guest"] = "yes";
  expect_field_error(json, "test_guest");
  json = valid_json();
  json["memory"] = 1;  // a typo of memory_bytes must not pass unnoticed
  expect_field_error(json, "memory");
  EXPECT_FALSE(QemuVmSpec::from_json(nlohmann::json::array()).ok());
}

TEST(QemuCommandLine, SharesRamFileAndStartsPaused) {
  auto spec = QemuVmSpec::from_json(valid_json()).value();
  QemuLaunch launch;
  launch.run_dir = "/run/ferry/web-1";
  launch.ram_path = "/dev/shm/web,1";
  AcceleratorChoice tcg{"tcg", "", "test"};
  auto args = qemu_command_line(spec, launch, tcg, /*incoming=*/false);
  EXPECT_EQ(args.front(), "qemu-system-x86_64");
  EXPECT_EQ(after(args, "-accel"), "tcg");
  EXPECT_EQ(after(args, "-m"), "256M");
  EXPECT_EQ(after(args, "-smp"), "2");
  // A comma in a path is doubled, or QEMU would read the rest as another property.
  EXPECT_EQ(after(args, "-object"),
            "memory-backend-file,id=ferry-ram,size=256M,mem-path=/dev/shm/web,,1,share=on");
  EXPECT_EQ(after(args, "-machine"), "pc,memory-backend=ferry-ram");
  EXPECT_EQ(after(args, "-qmp"), "unix:/run/ferry/web-1/qmp.sock,server=on,wait=off");
  EXPECT_NE(after(args, "-chardev").find("path=/run/ferry/web-1/serial.sock"), std::string::npos);
  EXPECT_EQ(after(args, "-kernel"), "/boot/guest.elf");
  EXPECT_EQ(after(args, "-append"), "rate=10 seed=3");
  EXPECT_NE(std::find(args.begin(), args.end(), "-S"), args.end());
  EXPECT_EQ(std::find(args.begin(), args.end(), "-incoming"), args.end());
  EXPECT_EQ(std::find(args.begin(), args.end(), "-cpu"), args.end());
  EXPECT_EQ(args[args.size() - 2], "-device");  // extra arguments come last
  EXPECT_EQ(args.back(), "e1000");

  AcceleratorChoice kvm{"kvm", "host,-arch-capabilities", "test"};
  auto incoming = qemu_command_line(spec, launch, kvm, /*incoming=*/true);
  EXPECT_EQ(after(incoming, "-incoming"), "defer");
  EXPECT_EQ(after(incoming, "-cpu"), "host,-arch-capabilities");
  spec.cpu = "qemu64";
  EXPECT_EQ(after(qemu_command_line(spec, launch, kvm, false), "-cpu"), "qemu64");
}

TEST(Accelerator, AutoPrefersTcgOverSoftwareKvm) {
  KvmProbe pvm{true, 12, "kvm_pvm", ""};
  auto choice = choose_accelerator("auto", pvm);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accel, "tcg");
  EXPECT_NE(choice->reason.find("kvm_pvm"), std::string::npos);
  // Asked for explicitly, kvm_pvm is used with the CPU model that works under it.
  auto forced = choose_accelerator("kvm", pvm);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->cpu, "host,-arch-capabilities");
}

TEST(Accelerator, AutoTakesHardwareKvm) {
  auto choice = choose_accelerator("auto", KvmProbe{true, 12, "kvm_intel", ""});
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accel, "kvm");
  EXPECT_EQ(choice->cpu, "host");
}

TEST(Accelerator, RefusesUnusableKvmAndUnknownNames) {
  KvmProbe none{false, -1, "", "open /dev/kvm: No such file or directory"};
  auto choice = choose_accelerator("auto", none);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accel, "tcg");
  auto forced = choose_accelerator("kvm", none);
  ASSERT_FALSE(forced.ok());
  EXPECT_NE(forced.error().message().find("/dev/kvm"), std::string::npos);
  EXPECT_EQ(choose_accelerator("xen", none).error().code(), Errc::invalid_argument);
  EXPECT_EQ(choose_accelerator("tcg", none)->accel, "tcg");
}

}  // namespace
}  // namespace ferry
