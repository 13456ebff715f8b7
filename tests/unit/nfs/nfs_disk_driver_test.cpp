// The NFS disk driver against a real NFSv3 server (rpcbind + nfs-ganesha from
// scripts/fixtures/nfs-server): identity and writability checks at prepare, timeouts, and the
// ownership record moving from host A to host B. Skipped with the reason when the server cannot
// run.
#include "drivers/storage/nfs/nfs_disk_driver.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "drivers/storage/nfs/nfs_session.h"
#include "drivers/storage/nfs/ownership_record.h"
#include "engine/posix/unique_fd.h"
#include "tests/unit/nfs/fixture_command.h"
#include "tests/unit/nfs/nfs_test_server.h"

namespace ferry::nfs {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint64_t kImageSize = 1 << 20;

std::string read_local(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A TCP port on 127.0.0.1 that accepts connections into its backlog but never answers: a server
// that hangs.
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_.get(), 8) != 0 ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
      fd_.reset();
    port_ = ntohs(address.sin_port);
  }
  bool ok() const { return fd_.valid(); }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

// A port on 127.0.0.1 nothing listens on (bound once to learn a free one, then closed).
int unused_port() {
  SilentListener probe;
  return probe.ok() ? probe.port() : 1;
}

// Stops a process with SIGSTOP for its lifetime: a server that stopped answering.
class StoppedProcess {
 public:
  explicit StoppedProcess(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }
  ~StoppedProcess() { ::kill(pid_, SIGCONT); }

 private:
  pid_t pid_;
};

class NfsDiskDriverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto reason = NfsTestServer::unavailable_reason()) {
      skip_reason_ = new std::string(*reason);
      return;
    }
    auto server = NfsTestServer::start();
    if (!server) {
      start_error_ = new std::string(server.error().message());
      return;
    }
    server_ = server.value().release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete skip_reason_;
    skip_reason_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (skip_reason_) GTEST_SKIP() << *skip_reason_;
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    // Each test works in its own directory of the export.
    test_dir_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(server_->export_dir() + "/" + test_dir_);
    image_ = test_dir_ + "/disk0.img";
    make_image(local(image_));
  }

  static void make_image(const std::string& path) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string block(4096, 'x');
    for (uint64_t written = 0; written < kImageSize; written += block.size()) out << block;
  }

  // The path of an export-relative name on the server's own file system.
  std::string local(const std::string& relative) const {
    return server_->export_dir() + "/" + relative;
  }

  static ResourceContext context(const std::string& host, milliseconds timeout = milliseconds(5000),
                                 nlohmann::json repository = {{"server", "127.0.0.1"},
                                                              {"export", "/export"}}) {
    ResourceContext out;
    out.host = host;
    out.host_config = {{"nfs", {{"repositories", {{"sr1", std::move(repository)}}}}}};
    out.timeout = timeout;
    return out;
  }

  ResourceSpec spec(const std::string& image) const {
    ResourceSpec out;
    out.id = "disk0";
    out.driver = "nfs";
    out.params = {{"id", "disk0"}, {"driver", "nfs"}, {"sr", "sr1"}, {"image", image}};
    return out;
  }
  ResourceSpec spec() const { return spec(image_); }

  OwnershipRecord record() const {
    const std::string path = local(image_ + ".owner");
    if (!fs::exists(path)) return OwnershipRecord{};
    auto decoded = OwnershipRecord::decode(read_local(path), path);
    EXPECT_TRUE(decoded) << decoded.error().message();
    return decoded ? decoded.value() : OwnershipRecord{};
  }

  // Changes the export the way another host would: through NFS, so the server's caches see it.
  static std::unique_ptr<NfsSession> nfs_session() {
    NfsExport where{.server = "127.0.0.1", .export_path = "/export"};
    auto session = NfsSession::mount(where, NfsSession::Clock::now() + milliseconds(5000));
    EXPECT_TRUE(session) << session.error().message();
    return session ? std::move(session).value() : nullptr;
  }
  void put_through_nfs(const std::string& relative, const std::string& contents) {
    auto session = nfs_session();
    ASSERT_TRUE(session);
    auto created = session->create_exclusive("/" + relative + ".test-tmp", contents);
    ASSERT_TRUE(created) << created.error().message();
    ASSERT_TRUE(created.value());
    auto renamed = session->rename("/" + relative + ".test-tmp", "/" + relative);
    ASSERT_TRUE(renamed) << renamed.error().message();
  }
  void remove_through_nfs(const std::string& relative) {
    auto session = nfs_session();
    ASSERT_TRUE(session);
    auto removed = session->unlink("/" + relative);
    ASSERT_TRUE(removed) << removed.error().message();
  }

  // Host A runs the VM: its agent attaches the disk itself (no source facts) and takes ownership.
  ResourceBinding start_on_a() {
    auto binding = driver_.prepare(spec(), nullptr, a_);
    EXPECT_TRUE(binding) << binding.error().message();
    if (!binding) return {};
    auto activated = driver_.activate(binding.value(), a_);
    EXPECT_TRUE(activated) << activated.error().message();
    return binding.value();
  }

  static inline NfsTestServer* server_ = nullptr;
  static inline std::string* skip_reason_ = nullptr;
  static inline std::string* start_error_ = nullptr;

  NfsDiskDriver driver_;
  ResourceContext a_ = context("hosta");
  ResourceContext b_ = context("hostb");
  std::string test_dir_;
  std::string image_;
};

TEST_F(NfsDiskDriverTest, PrepareAcceptsTheSourcesImage) {
  ResourceBinding on_a = start_on_a();
  auto facts = driver_.inspect(on_a, a_);
  ASSERT_TRUE(facts) << facts.error().message();
  struct stat st {};
  ASSERT_EQ(::stat(local(image_).c_str(), &st), 0);
  EXPECT_EQ(facts.value().at("fileid").get<uint64_t>(), st.st_ino);
  EXPECT_EQ(facts.value().at("size").get<uint64_t>(), kImageSize);
  EXPECT_EQ(facts.value().at("owner"), "hosta");

  auto on_b = driver_.prepare(spec(), facts.value(), b_);
  ASSERT_TRUE(on_b) << on_b.error().message();
  EXPECT_EQ(on_b.value().attach.at("qemu-drive"),
            "file=nfs://127.0.0.1/export/" + image_ + ",format=raw");
  // Prepare takes nothing: the record still names the source.
  EXPECT_EQ(record().owner, "hosta");
  // Idempotent.
  auto again = driver_.prepare(spec(), facts.value(), b_);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again.value().attach, on_b.value().attach);
}

TEST_F(NfsDiskDriverTest, QemuOpensTheDriveItProduces) {
  if (::access("/usr/bin/qemu-img", X_OK) != 0) GTEST_SKIP() << "qemu-img not installed: skipped";
  auto binding = driver_.prepare(spec(), nullptr, b_);
  ASSERT_TRUE(binding) << binding.error().message();
  // "file=URL,format=raw": qemu-img takes the URL alone.
  std::string drive = binding.value().attach.at("qemu-drive");
  ASSERT_EQ(drive.rfind("file=", 0), 0u) << drive;
  const std::string url = drive.substr(5, drive.find(',') - 5);
  auto info = run_fixture_command({"qemu-img", "info", "--output=json", url});
  ASSERT_TRUE(info) << info.error().message();
  auto json = nlohmann::json::parse(info.value());
  EXPECT_EQ(json.at("virtual-size").get<uint64_t>(), kImageSize) << info.value();
  EXPECT_EQ(json.at("format"), "raw");
}

TEST_F(NfsDiskDriverTest, PrepareRefusesAFileWithAnotherIdentity) {
  ResourceBinding on_a = start_on_a();
  auto facts = driver_.inspect(on_a, a_);
  ASSERT_TRUE(facts) << facts.error().message();
  const uint64_t fileid = facts.value().at("fileid");
  nlohmann::json other = facts.value();
  other["fileid"] = fileid + 1;
  auto refused = driver_.prepare(spec(), other, b_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::rejected);
  EXPECT_NE(refused.error().message().find("file id " + std::to_string(fileid) + " here, " +
                                           std::to_string(fileid + 1) + " on the source"),
            std::string::npos)
      << refused.error().message();

  // Host B maps the repository to another export that has a file of the same name.
  fs::create_directories(server_->readonly_export_dir() + "/" + test_dir_);
  make_image(server_->readonly_export_dir() + "/" + image_);
  auto wrong_mapping =
      context("hostb", milliseconds(5000), {{"server", "127.0.0.1"}, {"export", "/export-ro"}});
  auto wrong = driver_.prepare(spec(), facts.value(), wrong_mapping);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::rejected);
  EXPECT_NE(wrong.error().message().find("is not the file the source uses"), std::string::npos)
      << wrong.error().message();
}

TEST_F(NfsDiskDriverTest, PrepareRefusesAMissingExport) {
  auto missing = context("hostb", milliseconds(5000),
                         {{"server", "127.0.0.1"}, {"export", "/no-such-export"}});
  auto refused = driver_.prepare(spec(), nullptr, missing);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::rejected);
  EXPECT_NE(refused.error().message().find("/no-such-export"), std::string::npos)
      << refused.error().message();
  EXPECT_NE(refused.error().message().find("storage repository sr1"), std::string::npos)
      << refused.error().message();
}

TEST_F(NfsDiskDriverTest, PrepareRefusesAMissingFile) {
  auto refused = driver_.prepare(spec(test_dir_ + "/missing.img"), nullptr, b_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::not_found);
  EXPECT_NE(refused.error().message().find("image " + test_dir_ +
                                           "/missing.img not found in "
                                           "storage repository sr1"),
            std::string::npos)
      << refused.error().message();
}

TEST_F(NfsDiskDriverTest, PrepareRefusesAReadOnlyFile) {
  ASSERT_EQ(::chmod(local(image_).c_str(), 0444), 0);
  auto refused = driver_.prepare(spec(), nullptr, b_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::rejected);
  EXPECT_NE(refused.error().message().find("is read-only (mode 444)"), std::string::npos)
      << refused.error().message();
}

TEST_F(NfsDiskDriverTest, PrepareRefusesAReadOnlyExport) {
  fs::create_directories(server_->readonly_export_dir() + "/" + test_dir_);
  make_image(server_->readonly_export_dir() + "/" + image_);
  auto read_only =
      context("hostb", milliseconds(5000), {{"server", "127.0.0.1"}, {"export", "/export-ro"}});
  auto refused = driver_.prepare(spec(), nullptr, read_only);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::rejected);
  EXPECT_NE(refused.error().message().find("is not writable from this host"), std::string::npos)
      << refused.error().message();
}

TEST_F(NfsDiskDriverTest, UnreachableServerFailsFast) {
  const int port = unused_port();
  auto nobody = context(
      "hostb", milliseconds(3000),
      {{"server", "127.0.0.1"}, {"export", "/export"}, {"nfs-port", port}, {"mount-port", port}});
  const auto start = Clock::now();
  auto refused = driver_.prepare(spec(), nullptr, nobody);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::unreachable) << refused.error().message();
  EXPECT_LT(elapsed, milliseconds(1000));
}

TEST_F(NfsDiskDriverTest, SilentServerTimesOut) {
  SilentListener silent;
  ASSERT_TRUE(silent.ok());
  auto hung = context("hostb", milliseconds(800),
                      {{"server", "127.0.0.1"},
                       {"export", "/export"},
                       {"nfs-port", silent.port()},
                       {"mount-port", silent.port()}});
  const auto start = Clock::now();
  auto refused = driver_.prepare(spec(), nullptr, hung);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::timeout) << refused.error().message();
  EXPECT_GE(elapsed, milliseconds(780));
  EXPECT_LT(elapsed, milliseconds(1500));
}

TEST_F(NfsDiskDriverTest, StoppedServerTimesOutInEveryStep) {
  ResourceBinding on_a = start_on_a();
  const OwnershipRecord before = record();
  ResourceContext quick = context("hosta", milliseconds(700));
  {
    StoppedProcess stopped(server_->ganesha_pid());
    for (const char* step : {"inspect", "deactivate", "prepare"}) {
      const auto start = Clock::now();
      Result<void> result;
      if (std::string(step) == "inspect") {
        auto facts = driver_.inspect(on_a, quick);
        if (!facts) result = std::move(facts).error();
      } else if (std::string(step) == "deactivate") {
        result = driver_.deactivate(on_a, quick);
      } else {
        auto binding = driver_.prepare(spec(), nullptr, quick);
        if (!binding) result = std::move(binding).error();
      }
      const auto elapsed = Clock::now() - start;
      ASSERT_FALSE(result) << step;
      EXPECT_EQ(result.error().code(), Errc::timeout) << step << ": " << result.error().message();
      EXPECT_LT(elapsed, milliseconds(1400)) << step;
    }
  }
  // Back up: the record is untouched and the retried step succeeds.
  EXPECT_EQ(record(), before);
  auto retried = driver_.deactivate(on_a, a_);
  ASSERT_TRUE(retried) << retried.error().message();
  EXPECT_EQ(record().released_by, "hosta");
}

TEST_F(NfsDiskDriverTest, OwnershipMovesFromAToB) {
  ResourceBinding on_a = start_on_a();
  OwnershipRecord owned = record();
  EXPECT_EQ(owned.owner, "hosta");
  EXPECT_EQ(owned.generation, 1u);
  auto facts = driver_.inspect(on_a, a_);
  ASSERT_TRUE(facts) << facts.error().message();
  auto on_b = driver_.prepare(spec(), facts.value(), b_);
  ASSERT_TRUE(on_b) << on_b.error().message();

  // B must not write before A has let go.
  auto early = driver_.activate(on_b.value(), b_);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code(), Errc::rejected);
  EXPECT_NE(early.error().message().find("still names the source host hosta"), std::string::npos)
      << early.error().message();

  ASSERT_TRUE(driver_.deactivate(on_a, a_));
  EXPECT_FALSE(record().owner);
  EXPECT_EQ(record().released_by, "hosta");
  const uint64_t released_generation = record().generation;
  ASSERT_TRUE(driver_.deactivate(on_a, a_));  // idempotent: no new generation
  EXPECT_EQ(record().generation, released_generation);

  auto taken = driver_.activate(on_b.value(), b_);
  ASSERT_TRUE(taken) << taken.error().message();
  EXPECT_EQ(record().owner, "hostb");
  EXPECT_EQ(record().changed_by, "hostb");
  ASSERT_TRUE(driver_.activate(on_b.value(), b_));  // idempotent
  EXPECT_EQ(record().generation, released_generation + 1);

  // A, after a switchover it believes failed, must not resume the VM.
  auto owner = driver_.owner_of(spec(), a_);
  ASSERT_TRUE(owner) << owner.error().message();
  EXPECT_EQ(owner.value(), "hostb");
  auto back = driver_.activate(on_a, a_);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code(), Errc::rejected);
  EXPECT_NE(back.error().message().find("names host hostb"), std::string::npos)
      << back.error().message();
  auto offer_again = driver_.inspect(on_a, a_);
  ASSERT_FALSE(offer_again);
  EXPECT_EQ(offer_again.error().code(), Errc::rejected);

  // A's release after commit leaves B's record alone.
  ASSERT_TRUE(driver_.release(on_a, a_));
  EXPECT_EQ(record().owner, "hostb");
  // No temporary record files are left behind.
  for (const auto& entry : fs::directory_iterator(local(test_dir_))) {
    const std::string name = entry.path().filename();
    EXPECT_TRUE(name == "disk0.img" || name == "disk0.img.owner") << name;
  }
}

TEST_F(NfsDiskDriverTest, SourceTakesItsDiskBackWhenTheDestinationNeverDid) {
  ResourceBinding on_a = start_on_a();
  auto facts = driver_.inspect(on_a, a_);
  ASSERT_TRUE(facts) << facts.error().message();
  auto on_b = driver_.prepare(spec(), facts.value(), b_);
  ASSERT_TRUE(on_b) << on_b.error().message();
  ASSERT_TRUE(driver_.deactivate(on_a, a_));
  // The switchover failed before B activated: A re-activates and may resume.
  auto back = driver_.activate(on_a, a_);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(record().owner, "hosta");
  auto owner = driver_.owner_of(spec(), a_);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner.value(), "hosta");
  // B's late activate loses.
  auto late = driver_.activate(on_b.value(), b_);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), Errc::rejected);
}

TEST_F(NfsDiskDriverTest, ThirdHostsAreRefused) {
  ResourceBinding on_a = start_on_a();
  ResourceContext c = context("hostc");
  // C starting the VM itself while A runs it.
  auto started_elsewhere = driver_.prepare(spec(), nullptr, c);
  ASSERT_FALSE(started_elsewhere);
  EXPECT_EQ(started_elsewhere.error().code(), Errc::rejected);
  EXPECT_NE(started_elsewhere.error().message().find("names host hosta"), std::string::npos);

  // B was promised the disk from A, but C released it meanwhile.
  auto facts = driver_.inspect(on_a, a_);
  ASSERT_TRUE(facts) << facts.error().message();
  auto on_b = driver_.prepare(spec(), facts.value(), b_);
  ASSERT_TRUE(on_b) << on_b.error().message();
  OwnershipRecord forged;
  forged.generation = record().generation + 1;
  forged.released_by = "hostc";
  forged.changed_by = "hostc";
  put_through_nfs(image_ + ".owner", forged.encode());
  auto refused = driver_.activate(on_b.value(), b_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::rejected);
  EXPECT_NE(refused.error().message().find("released by hostc"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(record(), forged);
}

TEST_F(NfsDiskDriverTest, RollbackAfterPrepareLeavesTheRecordAsItWas) {
  ResourceBinding on_a = start_on_a();
  const std::string before = read_local(local(image_ + ".owner"));
  auto facts = driver_.inspect(on_a, a_);
  ASSERT_TRUE(facts) << facts.error().message();
  auto on_b = driver_.prepare(spec(), facts.value(), b_);
  ASSERT_TRUE(on_b) << on_b.error().message();
  ASSERT_TRUE(driver_.rollback(on_b.value(), b_));
  ASSERT_TRUE(driver_.rollback(on_b.value(), b_));
  EXPECT_EQ(read_local(local(image_ + ".owner")), before);
}

TEST_F(NfsDiskDriverTest, RollbackAfterActivateRestoresTheSourcesRecord) {
  ResourceBinding on_a = start_on_a();
  auto facts = driver_.inspect(on_a, a_);
  ASSERT_TRUE(facts) << facts.error().message();
  auto on_b = driver_.prepare(spec(), facts.value(), b_);
  ASSERT_TRUE(on_b) << on_b.error().message();
  ASSERT_TRUE(driver_.deactivate(on_a, a_));
  ASSERT_TRUE(driver_.activate(on_b.value(), b_));
  ASSERT_EQ(record().owner, "hostb");

  // B fails before resuming: ResourceSet deactivates the active binding, then rolls back.
  ASSERT_TRUE(driver_.deactivate(on_b.value(), b_));
  auto rolled_back = driver_.rollback(on_b.value(), b_);
  ASSERT_TRUE(rolled_back) << rolled_back.error().message();
  const OwnershipRecord restored = record();
  EXPECT_EQ(restored.owner, "hosta");
  EXPECT_FALSE(restored.released_by);
  EXPECT_EQ(restored.changed_by, "hostb");
  ASSERT_TRUE(driver_.rollback(on_b.value(), b_));  // idempotent
  EXPECT_EQ(record(), restored);
  // A resumes as the owner it was.
  auto resumed = driver_.activate(on_a, a_);
  ASSERT_TRUE(resumed) << resumed.error().message();
  EXPECT_EQ(record(), restored);
}

TEST_F(NfsDiskDriverTest, RacingActivationsHaveExactlyOneWinner) {
  for (int round = 0; round < 6; ++round) {
    image_ = test_dir_ + "/race" + std::to_string(round) + ".img";
    make_image(local(image_));
    ResourceBinding on_a = start_on_a();
    auto facts = driver_.inspect(on_a, a_);
    ASSERT_TRUE(facts) << facts.error().message();
    auto on_b = driver_.prepare(spec(), facts.value(), b_);
    ASSERT_TRUE(on_b) << on_b.error().message();
    ASSERT_TRUE(driver_.deactivate(on_a, a_));

    // The destination activates while the source, having lost the connection, takes its disk back.
    NfsDiskDriver other_driver;
    std::atomic<bool> go{false};
    Result<void> a_result, b_result;
    std::thread a_thread([&] {
      while (!go) std::this_thread::yield();
      a_result = driver_.activate(on_a, a_);
    });
    std::thread b_thread([&] {
      while (!go) std::this_thread::yield();
      b_result = other_driver.activate(on_b.value(), b_);
    });
    go = true;
    a_thread.join();
    b_thread.join();
    ASSERT_NE(a_result.ok(), b_result.ok())
        << "round " << round << ": A " << (a_result ? "won" : a_result.error().message()) << ", B "
        << (b_result ? "won" : b_result.error().message());
    const Result<void>& loser = a_result ? b_result : a_result;
    EXPECT_EQ(loser.error().code(), Errc::rejected) << loser.error().message();
    EXPECT_EQ(record().owner, a_result ? "hosta" : "hostb") << "round " << round;
  }
}

TEST_F(NfsDiskDriverTest, ThisHostsLeftoverChangeIsCleared) {
  ResourceBinding on_a = start_on_a();
  // A's earlier deactivate died after creating generation 2's temporary file.
  OwnershipRecord interrupted;
  interrupted.generation = 2;
  interrupted.released_by = "hosta";
  interrupted.changed_by = "hosta";
  put_through_nfs(image_ + ".owner.2", interrupted.encode());
  auto retried = driver_.deactivate(on_a, a_);
  ASSERT_TRUE(retried) << retried.error().message();
  EXPECT_EQ(record().released_by, "hosta");
  EXPECT_EQ(record().generation, 2u);
  EXPECT_FALSE(fs::exists(local(image_ + ".owner.2")));
}

TEST_F(NfsDiskDriverTest, AnotherHostsLeftoverChangeBlocksUntilTheDeadline) {
  ResourceBinding on_a = start_on_a();
  const OwnershipRecord before = record();
  OwnershipRecord foreign;
  foreign.generation = 2;
  foreign.owner = "hostc";
  foreign.changed_by = "hostc";
  put_through_nfs(image_ + ".owner.2", foreign.encode());
  const auto start = Clock::now();
  auto blocked = driver_.deactivate(on_a, context("hosta", milliseconds(600)));
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code(), Errc::timeout);
  EXPECT_NE(blocked.error().message().find("being changed by host hostc"), std::string::npos)
      << blocked.error().message();
  EXPECT_NE(blocked.error().message().find(image_ + ".owner.2"), std::string::npos);
  EXPECT_LT(elapsed, milliseconds(1200));
  EXPECT_EQ(record(), before);
  // Once an operator removes it, the step goes through.
  remove_through_nfs(image_ + ".owner.2");
  auto unblocked = driver_.deactivate(on_a, a_);
  ASSERT_TRUE(unblocked) << unblocked.error().message();
}

}  // namespace
}  // namespace ferry::nfs
