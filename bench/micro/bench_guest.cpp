// A stand-in guest for the dirty-log benchmarks, started with the preload library: it maps a RAM
// file (an open descriptor: the benchmark already unlinked it), touches every page, then writes
// pages on command so the benchmark controls what is dirty.
//
//   ferry_bench_guest FD BYTES PARENT_PID     prints "READY" once every page is touched, then:
//   write COUNT    writes COUNT pages spread evenly over the RAM (all of them when COUNT >= pages)
//                  -> "OK <pages written>"
//   exit
//
// It dies with the benchmark (PR_SET_PDEATHSIG), so a crashed benchmark leaves no guest behind.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

namespace {

constexpr uint64_t kPage = 4096;

void bump(std::byte* memory, uint64_t page) {
  std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(memory + page * kPage))
      .fetch_add(1, std::memory_order_relaxed);
}

void reply(const std::string& text) {
  std::cout << text << std::endl;  // endl flushes: the benchmark waits for each line
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s FD BYTES PARENT_PID\n", argv[0]);
    return 2;
  }
  // Checked after the prctl: a parent that died before it would otherwise go unnoticed.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != std::atoi(argv[3])) return 3;
  const uint64_t bytes = std::strtoull(argv[2], nullptr, 10);
  const uint64_t pages = bytes / kPage;
  const int fd = std::atoi(argv[1]);
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED || pages == 0) {
    std::perror("mmap");
    return 1;
  }
  ::close(fd);
  auto* memory = static_cast<std::byte*>(mapped);
  for (uint64_t page = 0; page < pages; ++page) bump(memory, page);

  reply("READY");
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    uint64_t count = 0;
    words >> command;
    if (command == "write" && words >> count) {
      uint64_t written = 0;
      if (count >= pages) {
        for (uint64_t page = 0; page < pages; ++page) bump(memory, page);
        written = pages;
      } else if (count > 0) {
        // count distinct pages: page i * pages / count for i < count.
        for (uint64_t i = 0; i < count; ++i) bump(memory, i * pages / count);
        written = count;
      }
      reply("OK " + std::to_string(written));
    } else if (command == "exit") {
      break;
    } else {
      reply("ERR unknown command: " + line);
    }
  }
  return 0;
}
