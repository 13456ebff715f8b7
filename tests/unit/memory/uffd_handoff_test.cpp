#include "engine/agent/uffd_handoff.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

#include "tests/unit/memory/writer_process.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::ScopedPath;
using test::WriterProcess;

std::string fd_target(int fd) {
  char target[256] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  return n > 0 ? std::string(target, n) : std::string();
}

// Plays the preload library's side by hand: connects and sends `line`, with `fd` attached.
void send_like_preload(const std::string& path, const std::string& line, int fd) {
  const int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, path.c_str());
  ASSERT_EQ(::connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  iovec iov{const_cast<char*>(line.data()), line.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  }
  ASSERT_EQ(::sendmsg(sock, &message, 0), static_cast<ssize_t>(line.size()));
  ::close(sock);
}

TEST(UffdReceiver, TimesOutWhenNoGuestConnects) {
  ScopedPath socket("/tmp", "uffd.sock");
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok()) << receiver.error().message();
  auto fd = receiver->accept_fd(100ms);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code(), Errc::timeout);
  EXPECT_NE(fd.error().message().find(socket.path()), std::string::npos) << fd.error().message();
}

TEST(UffdReceiver, ReportsThePreloadErrorAsAGuestError) {
  ScopedPath socket("/tmp", "uffd.sock");
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok());
  send_like_preload(socket.path(), "ERR UFFDIO_API: Invalid argument\n", -1);
  auto fd = receiver->accept_fd(5s);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code(), Errc::guest);
  EXPECT_NE(fd.error().message().find("UFFDIO_API: Invalid argument"), std::string::npos)
      << fd.error().message();
}

TEST(UffdReceiver, OkWithoutADescriptorIsAProtocolError) {
  ScopedPath socket("/tmp", "uffd.sock");
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok());
  send_like_preload(socket.path(), "OK\n", -1);
  auto fd = receiver->accept_fd(5s);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code(), Errc::protocol);
}

TEST(UffdReceiver, ClosedBeforeTheStatusLineIsAProtocolError) {
  ScopedPath socket("/tmp", "uffd.sock");
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok());
  send_like_preload(socket.path(), "O", -1);
  auto fd = receiver->accept_fd(5s);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code(), Errc::protocol);
}

TEST(UffdReceiver, ReceivesTheDescriptorSent) {
  ScopedPath socket("/tmp", "uffd.sock");
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok());
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  send_like_preload(socket.path(), "OK\n", pipe_fds[1]);
  auto fd = receiver->accept_fd(5s);
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  ASSERT_EQ(::write(fd->get(), "x", 1), 1);  // the received fd is the pipe's write end
  char byte = 0;
  ASSERT_EQ(::read(pipe_fds[0], &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(UffdReceiver, ReplacesAStaleSocketButNotAFile) {
  ScopedPath socket("/tmp", "uffd.sock");
  {
    auto first = UffdReceiver::listen(socket.path());
    ASSERT_TRUE(first.ok());
    UffdReceiver moved = std::move(first).value();
    EXPECT_EQ(moved.path(), socket.path());
  }
  EXPECT_NE(::access(socket.path().c_str(), F_OK), 0) << "the receiver removes its socket";
  {
    // A stale socket left by a process that died.
    const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, socket.path().c_str());
    ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(sock);
  }
  auto second = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(second.ok()) << second.error().message();

  ScopedPath file("/tmp", "not-a-socket");
  std::ofstream(file.path()) << "data";
  auto refused = UffdReceiver::listen(file.path());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
  EXPECT_EQ(::access(file.path().c_str(), F_OK), 0) << "a regular file is never removed";
}

TEST(UffdReceiver, RejectsAPathTooLongForASocket) {
  auto receiver = UffdReceiver::listen("/tmp/" + std::string(200, 'x'));
  ASSERT_FALSE(receiver.ok());
  EXPECT_EQ(receiver.error().code(), Errc::invalid_argument);
}

TEST(UffdPreload, HandsAUserfaultfdOverAndCleansTheGuestEnvironment) {
  ScopedPath socket("/tmp", "uffd.sock");
  ScopedPath ram("/dev/shm", "ram");
  test::create_sparse_file(ram.path(), 1 << 20);
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok());
  // Another preloaded library (libm, harmless) must stay in the guest's LD_PRELOAD.
  WriterProcess guest(ram.path(), 1 << 20,
                      {std::string("LD_PRELOAD=libm.so.6:") + FERRY_PRELOAD_PATH,
                       std::string(kUffdSocketEnv) + "=" + socket.path()});
  auto fd = receiver->accept_fd(10s);
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  EXPECT_EQ(fd_target(fd->get()), "anon_inode:[userfaultfd]");
  EXPECT_EQ(guest.read_line(10s), "READY");
  EXPECT_EQ(guest.command("env"), "ENV LD_PRELOAD=libm.so.6 FERRY_UFFD_SOCK=-");
}

TEST(UffdPreload, DropsLdPreloadEntirelyWhenItWasTheOnlyLibrary) {
  ScopedPath socket("/tmp", "uffd.sock");
  ScopedPath ram("/dev/shm", "ram");
  test::create_sparse_file(ram.path(), 1 << 20);
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok());
  WriterProcess guest(ram.path(), 1 << 20,
                      {std::string("LD_PRELOAD=") + FERRY_PRELOAD_PATH,
                       std::string(kUffdSocketEnv) + "=" + socket.path()});
  auto fd = receiver->accept_fd(10s);
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  EXPECT_EQ(guest.read_line(10s), "READY");
  EXPECT_EQ(guest.command("env"), "ENV LD_PRELOAD=- FERRY_UFFD_SOCK=-");
}

TEST(UffdPreload, DisablesTransparentHugePagesWhenAsked) {
  ScopedPath socket("/tmp", "uffd.sock");
  ScopedPath ram("/dev/shm", "ram");
  test::create_sparse_file(ram.path(), 1 << 20);
  auto receiver = UffdReceiver::listen(socket.path());
  ASSERT_TRUE(receiver.ok());
  WriterProcess plain(ram.path(), 1 << 20, {});
  EXPECT_EQ(plain.read_line(10s), "READY");
  EXPECT_EQ(plain.command("thp"), "THP_enabled:\t1") << "the control: THP is on by default here";
  WriterProcess guest(
      ram.path(), 1 << 20,
      {std::string("LD_PRELOAD=") + FERRY_PRELOAD_PATH,
       std::string(kUffdSocketEnv) + "=" + socket.path(), "FERRY_UFFD_THP_DISABLE=1"});
  auto fd = receiver->accept_fd(10s);
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  EXPECT_EQ(guest.read_line(10s), "READY");
  EXPECT_EQ(guest.command("thp"), "THP_enabled:\t0");
}

TEST(UffdPreload, GuestStartsEvenWhenNobodyListens) {
  ScopedPath socket("/tmp", "nobody.sock");  // never created
  ScopedPath ram("/dev/shm", "ram");
  test::create_sparse_file(ram.path(), 1 << 20);
  WriterProcess guest(ram.path(), 1 << 20,
                      {std::string("LD_PRELOAD=") + FERRY_PRELOAD_PATH,
                       std::string(kUffdSocketEnv) + "=" + socket.path()});
  EXPECT_EQ(guest.read_line(10s), "READY");
  EXPECT_EQ(guest.command("write 1 2 3"), "OK");
}

TEST(UffdPreload, DefaultPathIsBesideTheExecutable) {
  const std::string path = default_preload_library_path();
  EXPECT_EQ(path, FERRY_PRELOAD_PATH);
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
}

}  // namespace
}  // namespace ferry
