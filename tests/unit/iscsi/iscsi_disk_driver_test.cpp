// The iSCSI driver against a real tgtd (scripts/fixtures/iscsi-target), one target per test with
// two 64 MiB LUNs. Hosts A and B are two initiator names on this machine.
#include "drivers/storage/iscsi/iscsi_disk_driver.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>

#include "drivers/storage/iscsi/lun_ownership.h"
#include "drivers/storage/iscsi/reservation_key.h"
#include "drivers/storage/iscsi/scsi_commands.h"
#include "engine/posix/unique_fd.h"
#include "tests/unit/iscsi/fixture_process.h"
#include "tests/unit/iscsi/iscsi_test_target.h"

namespace ferry::iscsi {
namespace {

using namespace std::chrono_literals;
using test::IscsiTestTarget;

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    auto&& ok_result_ = (expr);                              \
    ASSERT_TRUE(ok_result_) << ok_result_.error().message(); \
  } while (false)

constexpr const char* kTarget = "iqn.2026-11.test:disk1";
constexpr const char* kHostA = "iqn.2026-11.pool:hosta";
constexpr const char* kHostB = "iqn.2026-11.pool:hostb";
constexpr const char* kStranger = "iqn.2026-11.other:hostc";
constexpr const char* kObserver = "iqn.2026-11.test:observer";
constexpr std::uint32_t kBlock = 512;

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// A TCP port that accepts connections (the kernel's backlog completes the handshake) and never
// says a word: a hung target.
class SilentPortal {
 public:
  SilentPortal() {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_.valid() && ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        ::listen(fd_.get(), 8) == 0 &&
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0)
      portal_ = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  const std::string& portal() const { return portal_; }

 private:
  UniqueFd fd_;
  std::string portal_;
};

// Resumes a tgtd stopped with SIGSTOP even when an assertion fails.
class FrozenProcess {
 public:
  explicit FrozenProcess(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }
  ~FrozenProcess() { thaw(); }
  void thaw() {
    if (pid_ > 0) ::kill(std::exchange(pid_, -1), SIGCONT);
  }

 private:
  pid_t pid_;
};

class IscsiDiskDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = IscsiTestTarget::unavailable_reason()) GTEST_SKIP() << *reason;
    auto started = IscsiTestTarget::start();
    ASSERT_TRUE(started) << started.error().message();
    target_ = std::move(started).value();
    ASSERT_OK(target_->add_target(1, kTarget));
    ASSERT_OK(target_->add_lun(1, 1, "64M"));
    ASSERT_OK(target_->add_lun(1, 2, "64M"));
  }

  ResourceContext context(const std::string& host, const std::string& initiator,
                          const std::string& ownership = "registration",
                          std::vector<std::string> portals = {},
                          std::chrono::milliseconds timeout = 5s) const {
    if (portals.empty()) portals = {target_->portal()};
    ResourceContext context;
    context.host = host;
    context.host_config = {{"iscsi",
                            {{"initiator", initiator},
                             {"ownership", ownership},
                             {"repositories", {{"sr1", {{"portals", portals}}}}}}}};
    context.timeout = timeout;
    return context;
  }

  static ResourceSpec disk(int lun = 1, const std::string& target = kTarget) {
    nlohmann::json params = {
        {"id", "disk0"}, {"driver", "iscsi"}, {"sr", "sr1"}, {"target", target}, {"lun", lun}};
    return ResourceSpec{"disk0", "iscsi", params};
  }

  static Deadline soon() { return std::chrono::steady_clock::now() + 5s; }

  // A session of its own (like a host's I/O path or QEMU's), unregistered.
  std::unique_ptr<IscsiSession> session_as(const std::string& initiator, int lun = 1) const {
    auto session =
        IscsiSession::login(SessionAddress{initiator, target_->portal(), kTarget, lun}, soon());
    EXPECT_TRUE(session) << session.error().message();
    return session ? std::move(session).value() : nullptr;
  }

  // The reservation state as an uninvolved initiator reads it.
  ReservationState pr_state() const {
    auto observer = session_as(kObserver);
    if (!observer) return {};
    auto state = read_reservation_state(*observer, soon());
    EXPECT_TRUE(state) << state.error().message();
    (void)observer->logout(soon());
    return state ? state.value() : ReservationState{};
  }

  static std::vector<std::uint8_t> pattern(std::uint8_t fill) {
    return std::vector<std::uint8_t>(kBlock, fill);
  }

  Result<ScsiStatus> write(IscsiSession& session, std::uint8_t fill) const {
    return write_blocks(session, 7, pattern(fill), kBlock, soon());
  }

  std::unique_ptr<IscsiTestTarget> target_;
};

const std::uint64_t kKeyA = reservation_key_for(kHostA);
const std::uint64_t kKeyB = reservation_key_for(kHostB);

TEST_F(IscsiDiskDriverTest, PrepareOnTheRightLunAttachesThroughThisHostsPath) {
  IscsiDiskDriver host_a;
  IscsiDiskDriver host_b;
  const auto context_a = context("hosta", kHostA);
  const auto context_b = context("hostb", kHostB);

  auto source = host_a.prepare(disk(), nullptr, context_a);
  ASSERT_TRUE(source) << source.error().message();
  auto facts = host_a.inspect(source.value(), context_a);
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_FALSE(facts.value()["vpd83"].empty()) << facts.value().dump();
  EXPECT_EQ(facts.value()["serial"], "beaf11");
  EXPECT_EQ(facts.value()["block-size"], 512);
  EXPECT_EQ(facts.value()["blocks"], 64 * 1024 * 1024 / 512);
  EXPECT_EQ(facts.value()["reservation-key"], format_reservation_key(kKeyA));

  auto destination = host_b.prepare(disk(), facts.value(), context_b);
  ASSERT_TRUE(destination) << destination.error().message();
  const std::string url = "iscsi://" + target_->portal() + "/" + kTarget + "/1";
  EXPECT_EQ(destination->attach["qemu-drive"],
            "file=" + url + ",format=raw,file.initiator-name=" + kHostB);
  EXPECT_EQ(destination->attach["url"], url);
  EXPECT_EQ(destination->attach["initiator-name"], kHostB);
  EXPECT_EQ(destination->state["source-key"], format_reservation_key(kKeyA));
  EXPECT_EQ(host_b.open_sessions(), 1u);
  auto shown = target_->show();
  ASSERT_TRUE(shown) << shown.error().message();
  EXPECT_EQ(occurrences(shown.value(), std::string("Initiator: ") + kHostB), 1u) << shown.value();

  if (test::in_path("qemu-img")) {
    auto info = test::run_checked({"qemu-img", "info", "--output=json", url});
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(nlohmann::json::parse(info.value())["virtual-size"], 64 * 1024 * 1024);
  }
  if (test::in_path("qemu-system-x86_64")) {
    // QEMU opens the disk with the attach exactly as the launcher passes it, as host B.
    auto qemu = test::ChildProcess::spawn(
        {"qemu-system-x86_64", "-accel", "tcg", "-display", "none", "-nodefaults",
         "-no-user-config", "-S", "-drive",
         destination->attach["qemu-drive"].get<std::string>() + ",if=none,id=disk0"},
        target_->dir() + "/qemu.log");
    ASSERT_TRUE(qemu) << qemu.error().message();
    std::string seen;
    for (int i = 0; i < 300; ++i) {
      auto now = target_->show();
      if (now) seen = now.value();
      if (occurrences(seen, std::string("Initiator: ") + kHostB) == 2) break;
      std::this_thread::sleep_for(50ms);
    }
    qemu.value().stop();
    EXPECT_EQ(occurrences(seen, std::string("Initiator: ") + kHostB), 2u)
        << "QEMU did not log in as " << kHostB << ":\n"
        << seen;
  }

  ASSERT_OK(host_b.rollback(destination.value(), context_b));
  ASSERT_OK(host_a.release(source.value(), context_a));
  EXPECT_EQ(host_a.open_sessions(), 0u);
  EXPECT_EQ(host_b.open_sessions(), 0u);
}

TEST_F(IscsiDiskDriverTest, RefusesALunWithAnotherIdentity) {
  IscsiDiskDriver host_a;
  IscsiDiskDriver host_b;
  const auto context_a = context("hosta", kHostA);
  const auto context_b = context("hostb", kHostB);
  // The source's disk is LUN 2; host B's mapping leads to LUN 1.
  auto other = host_a.prepare(disk(2), nullptr, context_a);
  ASSERT_TRUE(other) << other.error().message();
  auto facts = host_a.inspect(other.value(), context_a);
  ASSERT_TRUE(facts) << facts.error().message();

  auto refused = host_b.prepare(disk(1), facts.value(), context_b);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::rejected);
  const std::string& message = refused.error().message();
  EXPECT_NE(message.find("LUN 1 of iqn.2026-11.test:disk1"), std::string::npos) << message;
  EXPECT_NE(message.find("VPD 0x83"), std::string::npos) << message;
  EXPECT_NE(message.find("source 'beaf12', here 'beaf11'"), std::string::npos) << message;
  EXPECT_EQ(host_b.open_sessions(), 0u);

  // Same designators and serial but another size: still not the source's disk.
  auto same = host_a.prepare(disk(1), nullptr, context_a);
  ASSERT_TRUE(same) << same.error().message();
  auto same_facts = host_a.inspect(same.value(), context_a);
  ASSERT_TRUE(same_facts) << same_facts.error().message();
  same_facts.value()["blocks"] = same_facts.value()["blocks"].get<std::uint64_t>() * 2;
  auto resized = host_b.prepare(disk(1), same_facts.value(), context_b);
  ASSERT_FALSE(resized);
  EXPECT_NE(resized.error().message().find("capacity"), std::string::npos)
      << resized.error().message();

  // Nobody from host B stayed logged in after the refusals.
  auto shown = target_->show();
  ASSERT_TRUE(shown);
  EXPECT_EQ(occurrences(shown.value(), std::string("Initiator: ") + kHostB), 0u) << shown.value();
  ASSERT_OK(host_a.release(other.value(), context_a));
  ASSERT_OK(host_a.release(same.value(), context_a));
}

TEST_F(IscsiDiskDriverTest, RefusesAnUnreachablePortalWithinTheTimeout) {
  IscsiDiskDriver host_b;
  auto closed_port = test::free_loopback_port();
  ASSERT_TRUE(closed_port);
  const std::string closed = "127.0.0.1:" + std::to_string(closed_port.value());
  auto started = std::chrono::steady_clock::now();
  auto refused =
      host_b.prepare(disk(), nullptr, context("hostb", kHostB, "registration", {closed}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::unreachable) << refused.error().message();
  EXPECT_NE(refused.error().message().find(closed), std::string::npos) << refused.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);

  SilentPortal silent;
  ASSERT_FALSE(silent.portal().empty());
  started = std::chrono::steady_clock::now();
  auto hung = host_b.prepare(disk(), nullptr,
                             context("hostb", kHostB, "registration", {silent.portal()}, 700ms));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(hung);
  EXPECT_EQ(hung.error().code(), Errc::timeout) << hung.error().message();
  EXPECT_NE(hung.error().message().find("login"), std::string::npos) << hung.error().message();
  EXPECT_GE(took, 650ms);
  EXPECT_LT(took, 2s);

  // A dead first portal leaves the second its share of the time.
  auto failed_over = host_b.prepare(
      disk(), nullptr,
      context("hostb", kHostB, "registration", {silent.portal(), target_->portal()}, 2s));
  ASSERT_TRUE(failed_over) << failed_over.error().message();
  EXPECT_EQ(failed_over->state["portal"], target_->portal());
  ASSERT_OK(host_b.rollback(failed_over.value(), context("hostb", kHostB)));
  EXPECT_EQ(host_b.open_sessions(), 0u);
}

TEST_F(IscsiDiskDriverTest, RefusesAMissingTargetOrLun) {
  IscsiDiskDriver host_b;
  const auto context_b = context("hostb", kHostB);
  auto no_target = host_b.prepare(disk(1, "iqn.2026-11.test:nosuch"), nullptr, context_b);
  ASSERT_FALSE(no_target);
  EXPECT_EQ(no_target.error().code(), Errc::not_found) << no_target.error().message();
  EXPECT_NE(no_target.error().message().find("iqn.2026-11.test:nosuch"), std::string::npos);

  auto no_lun = host_b.prepare(disk(9), nullptr, context_b);
  ASSERT_FALSE(no_lun);
  EXPECT_EQ(no_lun.error().code(), Errc::not_found) << no_lun.error().message();
  EXPECT_NE(no_lun.error().message().find("no LUN 9"), std::string::npos)
      << no_lun.error().message();
  EXPECT_EQ(host_b.open_sessions(), 0u);
}

TEST_F(IscsiDiskDriverTest, ReservationHandoffMovesWriteAccessFromHostAToHostB) {
  IscsiDiskDriver host_a;
  IscsiDiskDriver host_b;
  const auto context_a = context("hosta", kHostA, "reservation");
  const auto context_b = context("hostb", kHostB, "reservation");

  auto source = host_a.prepare(disk(), nullptr, context_a);
  ASSERT_TRUE(source) << source.error().message();
  ASSERT_OK(host_a.activate(source.value(), context_a));
  // Host A's I/O path joins the host's registration; host B's path is not registered.
  auto io_a = session_as(kHostA);
  auto io_b = session_as(kHostB);
  ASSERT_TRUE(io_a && io_b);
  ASSERT_OK(join_registration(*io_a, kKeyA, soon()));
  auto a_writes = write(*io_a, 0xa1);
  ASSERT_TRUE(a_writes) << a_writes.error().message();
  EXPECT_TRUE(a_writes->good()) << a_writes->describe();
  auto b_blocked = write(*io_b, 0xb1);
  ASSERT_TRUE(b_blocked) << b_blocked.error().message();
  EXPECT_TRUE(b_blocked->reservation_conflict()) << b_blocked->describe();

  auto facts = host_a.inspect(source.value(), context_a);
  ASSERT_TRUE(facts) << facts.error().message();
  auto destination = host_b.prepare(disk(), facts.value(), context_b);
  ASSERT_TRUE(destination) << destination.error().message();
  // Host A does not let go (a source that lost contact): host B's activate fences it anyway.
  ASSERT_OK(host_b.activate(destination.value(), context_b));
  const auto owned = pr_state();
  EXPECT_EQ(owned.keys, std::vector<std::uint64_t>{kKeyB}) << owned.describe();
  ASSERT_TRUE(owned.holder);
  EXPECT_EQ(owned.holder->key, kKeyB);
  EXPECT_EQ(owned.holder->type, kOwnerReservationType);

  auto a_fenced = write(*io_a, 0xa2);
  ASSERT_TRUE(a_fenced) << a_fenced.error().message();
  EXPECT_TRUE(a_fenced->reservation_conflict()) << a_fenced->describe();
  ASSERT_OK(join_registration(*io_b, kKeyB, soon()));
  auto b_writes = write(*io_b, 0xb2);
  ASSERT_TRUE(b_writes) << b_writes.error().message();
  EXPECT_TRUE(b_writes->good()) << b_writes->describe();
  auto read_back = read_blocks(*io_a, 7, kBlock, kBlock, soon());  // reads stay open to all
  ASSERT_TRUE(read_back) << read_back.error().message();
  ASSERT_TRUE(read_back->status.good()) << read_back->status.describe();
  EXPECT_EQ(read_back->data, pattern(0xb2));

  // The old source may still run its steps: they must not touch host B's ownership.
  ASSERT_OK(host_a.deactivate(source.value(), context_a));
  ASSERT_OK(host_a.release(source.value(), context_a));
  EXPECT_EQ(pr_state().keys, std::vector<std::uint64_t>({kKeyB, kKeyB}));

  // Releasing ends every registration of host B's key, its I/O path's included.
  ASSERT_OK(host_b.release(destination.value(), context_b));
  const auto released = pr_state();
  EXPECT_TRUE(released.keys.empty()) << released.describe();
  EXPECT_FALSE(released.holder) << released.describe();
  auto b_after = write(*io_b, 0xb3);
  ASSERT_TRUE(b_after);
  EXPECT_TRUE(b_after->good()) << "no reservation is left: " << b_after->describe();
  EXPECT_EQ(host_a.open_sessions(), 0u);
  EXPECT_EQ(host_b.open_sessions(), 0u);
  (void)io_a->logout(soon());
  (void)io_b->logout(soon());
}

TEST_F(IscsiDiskDriverTest, OrderlyHandoffInRegistrationModeLeavesQemuSessionsWritable) {
  IscsiDiskDriver host_a;
  IscsiDiskDriver host_b;
  const auto context_a = context("hosta", kHostA);
  const auto context_b = context("hostb", kHostB);

  auto source = host_a.prepare(disk(), nullptr, context_a);
  ASSERT_TRUE(source) << source.error().message();
  ASSERT_OK(host_a.activate(source.value(), context_a));
  ASSERT_OK(host_a.activate(source.value(), context_a));  // idempotent
  auto by_a = pr_state();
  EXPECT_EQ(by_a.keys, std::vector<std::uint64_t>{kKeyA}) << by_a.describe();
  EXPECT_FALSE(by_a.holder);

  auto facts = host_a.inspect(source.value(), context_a);
  ASSERT_TRUE(facts) << facts.error().message();
  auto destination = host_b.prepare(disk(), facts.value(), context_b);
  ASSERT_TRUE(destination) << destination.error().message();
  ASSERT_OK(host_a.deactivate(source.value(), context_a));
  ASSERT_OK(host_a.deactivate(source.value(), context_a));  // idempotent
  EXPECT_TRUE(pr_state().keys.empty());
  ASSERT_OK(host_b.activate(destination.value(), context_b));
  ASSERT_OK(host_b.activate(destination.value(), context_b));
  auto by_b = pr_state();
  EXPECT_EQ(by_b.keys, std::vector<std::uint64_t>{kKeyB}) << by_b.describe();
  EXPECT_FALSE(by_b.holder);

  // QEMU's own session (another ISID, never registered) can write the disk.
  auto qemu_like = session_as(kHostB);
  ASSERT_TRUE(qemu_like);
  auto written = write(*qemu_like, 0xc1);
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_TRUE(written->good()) << written->describe();
  (void)qemu_like->logout(soon());

  // The destination gives up again (as ResourceSet::rollback does: deactivate, then rollback).
  ASSERT_OK(host_b.deactivate(destination.value(), context_b));
  ASSERT_OK(host_b.rollback(destination.value(), context_b));
  ASSERT_OK(host_b.rollback(destination.value(), context_b));  // idempotent
  ASSERT_OK(host_a.activate(source.value(), context_a));       // the source takes it back
  EXPECT_EQ(pr_state().keys, std::vector<std::uint64_t>{kKeyA});
  ASSERT_OK(host_a.release(source.value(), context_a));
  EXPECT_TRUE(pr_state().keys.empty());
  EXPECT_EQ(host_a.open_sessions(), 0u);
  EXPECT_EQ(host_b.open_sessions(), 0u);
}

TEST_F(IscsiDiskDriverTest, RefusesAReservationHeldByAThirdParty) {
  IscsiDiskDriver host_a;
  IscsiDiskDriver host_b;
  const auto context_a = context("hosta", kHostA);
  const auto context_b = context("hostb", kHostB);
  auto source = host_a.prepare(disk(), nullptr, context_a);
  ASSERT_TRUE(source) << source.error().message();
  auto facts = host_a.inspect(source.value(), context_a);
  ASSERT_TRUE(facts) << facts.error().message();

  auto stranger = session_as(kStranger);
  ASSERT_TRUE(stranger);
  const std::uint64_t stranger_key = reservation_key_for(kStranger);
  ASSERT_OK(join_registration(*stranger, stranger_key, soon()));
  ASSERT_OK(persistent_reserve_out(*stranger, ReserveAction::reserve, 1, stranger_key, 0, soon()));

  auto refused = host_b.prepare(disk(), facts.value(), context_b);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::rejected);
  EXPECT_NE(refused.error().message().find(format_reservation_key(stranger_key)), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("WRITE EXCLUSIVE"), std::string::npos);
  EXPECT_EQ(host_b.open_sessions(), 0u);
  // A VM starting here is refused the same way, and the source cannot take the disk either.
  EXPECT_FALSE(host_b.prepare(disk(), nullptr, context_b));
  auto taken = host_a.activate(source.value(), context_a);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code(), Errc::rejected) << taken.error().message();

  ASSERT_OK(give_up_ownership(*stranger, stranger_key, soon()));
  (void)stranger->logout(soon());
  ASSERT_OK(host_a.release(source.value(), context_a));
  EXPECT_TRUE(pr_state().keys.empty());
}

TEST_F(IscsiDiskDriverTest, RollbackDropsRegistrationsOfDeadSessionsOfOurs) {
  IscsiDiskDriver host_b;
  const auto context_b = context("hostb", kHostB, "reservation");
  auto binding = host_b.prepare(disk(), nullptr, context_b);
  ASSERT_TRUE(binding) << binding.error().message();
  ASSERT_OK(host_b.activate(binding.value(), context_b));
  {
    // A path of host B registers, then dies without a word (no logout, no unregister).
    auto crashed = session_as(kHostB);
    ASSERT_TRUE(crashed);
    ASSERT_OK(join_registration(*crashed, kKeyB, soon()));
  }
  std::this_thread::sleep_for(100ms);
  auto before = pr_state();
  EXPECT_EQ(before.count(kKeyB), 2u)
      << "tgt keeps a dead nexus' registration: " << before.describe();
  // A stranger's registration is not ours to drop.
  auto stranger = session_as(kStranger);
  ASSERT_TRUE(stranger);
  ASSERT_OK(join_registration(*stranger, reservation_key_for(kStranger), soon()));

  ASSERT_OK(host_b.deactivate(binding.value(), context_b));
  ASSERT_OK(host_b.rollback(binding.value(), context_b));
  const auto after = pr_state();
  EXPECT_EQ(after.count(kKeyB), 0u) << after.describe();
  EXPECT_EQ(after.keys, std::vector<std::uint64_t>{reservation_key_for(kStranger)});
  EXPECT_FALSE(after.holder) << after.describe();
  ASSERT_OK(give_up_ownership(*stranger, reservation_key_for(kStranger), soon()));
  (void)stranger->logout(soon());
}

TEST_F(IscsiDiskDriverTest, AStepAgainstAHungTargetEndsWithTimeout) {
  IscsiDiskDriver host_a;
  auto binding = host_a.prepare(disk(), nullptr, context("hosta", kHostA));
  ASSERT_TRUE(binding) << binding.error().message();
  auto pid = target_->pid();
  ASSERT_TRUE(pid) << pid.error().message();
  {
    FrozenProcess frozen(pid.value());
    const auto started = std::chrono::steady_clock::now();
    auto hung =
        host_a.inspect(binding.value(), context("hosta", kHostA, "registration", {}, 500ms));
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(hung);
    EXPECT_EQ(hung.error().code(), Errc::timeout) << hung.error().message();
    EXPECT_NE(hung.error().message().find("INQUIRY"), std::string::npos) << hung.error().message();
    EXPECT_LT(took, 1500ms);
  }
  // The broken session was dropped; the next step logs in again.
  auto facts = host_a.inspect(binding.value(), context("hosta", kHostA));
  ASSERT_TRUE(facts) << facts.error().message();
  ASSERT_OK(host_a.release(binding.value(), context("hosta", kHostA)));
  EXPECT_EQ(host_a.open_sessions(), 0u);
}

}  // namespace
}  // namespace ferry::iscsi
