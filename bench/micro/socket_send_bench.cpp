// TCP send paths for the page stream, over loopback (issue: "try io_uring SEND_ZC / MSG_ZEROCOPY
// and keep what measures faster"): plain send(), send() with MSG_ZEROCOPY, and io_uring SEND_ZC,
// each moving 1 MiB records out of a 64 MiB shared mapping (as guest RAM is) to a receiver thread
// that reads them into one buffer. Counter "copied" is the fraction of zero-copy sends the kernel
// reported as copied after all (SO_EE_CODE_ZEROCOPY_COPIED): on local delivery it has to copy.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <liburing.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Kernel ABI values (6.2+) that Debian 12's liburing 2.3 headers predate.
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

namespace {

constexpr std::size_t kRecord = 1 << 20;
constexpr std::size_t kRegion = 64 << 20;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// A connected loopback TCP pair: `sender` here, the other end drained by a thread until EOF.
struct LoopbackPair {
  int sender = -1;
  std::thread drain;

  LoopbackPair() {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      fail("loopback listener");
    sender = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(sender, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      fail("connect");
    const int receiver = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(listener);
    if (receiver < 0) fail("accept");
    drain = std::thread([receiver] {
      std::vector<char> buffer(kRecord);
      while (::recv(receiver, buffer.data(), buffer.size(), 0) > 0) {
      }
      ::close(receiver);
    });
  }
  ~LoopbackPair() {
    ::shutdown(sender, SHUT_WR);
    drain.join();
    ::close(sender);
  }
};

struct SharedRegion {
  std::byte* data;
  SharedRegion() {
    data = static_cast<std::byte*>(
        ::mmap(nullptr, kRegion, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (data == MAP_FAILED) fail("mmap");
    for (std::size_t i = 0; i < kRegion; i += 8) std::memcpy(data + i, &i, 8);
  }
  ~SharedRegion() { ::munmap(data, kRegion); }
};

void send_all(int fd, const std::byte* data, std::size_t size, int flags) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, flags | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("send");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void BM_SendCopy(benchmark::State& state) {
  SharedRegion region;
  LoopbackPair pair;
  std::size_t offset = 0;
  for (auto _ : state) {
    send_all(pair.sender, region.data + offset, kRecord, 0);
    offset = (offset + kRecord) % kRegion;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecord));
}
BENCHMARK(BM_SendCopy)->UseRealTime()->MinTime(2.0);

// Completions of MSG_ZEROCOPY sends waiting on the error queue: collects them, counting those the
// kernel copied anyway. Returns how many sends they completed.
uint64_t reap_zerocopy(int fd, uint64_t& copied, bool wait) {
  uint64_t done = 0;
  for (;;) {
    char control[128];
    msghdr message{};
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    if (::recvmsg(fd, &message, MSG_ERRQUEUE | (wait && done == 0 ? 0 : MSG_DONTWAIT)) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return done;
      if (errno == EINTR) continue;
      fail("recvmsg MSG_ERRQUEUE");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
      sock_extended_err error;
      std::memcpy(&error, CMSG_DATA(c), sizeof error);
      if (error.ee_origin != SO_EE_ORIGIN_ZEROCOPY) continue;
      const uint64_t n = error.ee_data - error.ee_info + 1;  // completed range [info, data]
      done += n;
      if (error.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) copied += n;
    }
  }
}

void BM_SendMsgZerocopy(benchmark::State& state) {
  SharedRegion region;
  LoopbackPair pair;
  const int one = 1;
  if (::setsockopt(pair.sender, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0) {
    state.SkipWithError("SO_ZEROCOPY refused");
    return;
  }
  uint64_t sent = 0, completed = 0, copied = 0;
  std::size_t offset = 0;
  for (auto _ : state) {
    const std::byte* data = region.data + offset;
    std::size_t left = kRecord;
    while (left > 0) {
      const ssize_t n = ::send(pair.sender, data, left, MSG_ZEROCOPY | MSG_NOSIGNAL);
      if (n < 0 && errno == ENOBUFS) {  // too many sends in flight: wait for completions
        completed += reap_zerocopy(pair.sender, copied, true);
        continue;
      }
      if (n < 0) fail("send MSG_ZEROCOPY");
      ++sent;
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    completed += reap_zerocopy(pair.sender, copied, false);
    offset = (offset + kRecord) % kRegion;
  }
  while (completed < sent) completed += reap_zerocopy(pair.sender, copied, true);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecord));
  state.counters["copied"] = sent ? static_cast<double>(copied) / sent : 0;
}
BENCHMARK(BM_SendMsgZerocopy)->UseRealTime()->MinTime(2.0);

void BM_SendIoUringZc(benchmark::State& state) {
  SharedRegion region;
  LoopbackPair pair;
  io_uring ring;
  if (io_uring_queue_init(64, &ring, 0) != 0) {
    state.SkipWithError("io_uring_queue_init failed");
    return;
  }
  uint64_t notifications = 0, copied = 0, sends = 0;
  std::size_t offset = 0;
  bool ok = true;
  for (auto _ : state) {
    const std::byte* data = region.data + offset;
    std::size_t left = kRecord;
    while (left > 0 && ok) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_send_zc(sqe, pair.sender, data, left, MSG_NOSIGNAL,
                            IORING_SEND_ZC_REPORT_USAGE);
      io_uring_submit(&ring);
      ++sends;
      // The result CQE says how much was sent; a notification CQE (IORING_CQE_F_NOTIF) follows
      // once the kernel no longer needs the buffer.
      bool have_result = false;
      while (!have_result) {
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe(&ring, &cqe) != 0) {
          ok = false;
          break;
        }
        if (cqe->flags & IORING_CQE_F_NOTIF) {
          ++notifications;
          if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED) ++copied;
        } else {
          have_result = true;
          if (cqe->res < 0) {
            errno = -cqe->res;
            state.SkipWithError(("SEND_ZC: " + std::string(std::strerror(errno))).c_str());
            ok = false;
          } else {
            data += cqe->res;
            left -= static_cast<std::size_t>(cqe->res);
          }
        }
        io_uring_cqe_seen(&ring, cqe);
      }
    }
    offset = (offset + kRecord) % kRegion;
  }
  while (ok && notifications < sends) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_wait_cqe(&ring, &cqe) != 0) break;
    if (cqe->flags & IORING_CQE_F_NOTIF) {
      ++notifications;
      if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED) ++copied;
    }
    io_uring_cqe_seen(&ring, cqe);
  }
  io_uring_queue_exit(&ring);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecord));
  state.counters["copied"] = sends ? static_cast<double>(copied) / sends : 0;
}
BENCHMARK(BM_SendIoUringZc)->UseRealTime()->MinTime(2.0);

}  // namespace
