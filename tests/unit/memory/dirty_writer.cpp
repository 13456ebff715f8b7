// A stand-in guest for the dirty-tracking tests: maps a shared file and writes the pages it is
// told to, so the test knows exactly which pages were written. Started with the preload library.
//
//   ferry_dirty_writer FILE BYTES        prints "READY", then answers one line per command:
//   write P...        add 1 to the 64-bit counter at the start of each page P   -> OK
//   read P...         read one byte of each page P                               -> OK
//   fill              write every page                                           -> OK
//   spin FIRST COUNT  keep writing random pages of [FIRST, FIRST+COUNT) (thread) -> OK
//   halt              stop spinning                                              -> OK <writes>
//   env               -> ENV LD_PRELOAD=<value|-> FERRY_UFFD_SOCK=<value|->
//   thp               -> the THP_enabled line of /proc/self/status
//   exit
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

namespace {

constexpr uint64_t kPage = 4096;

void bump(std::byte* memory, uint64_t page) {
  std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(memory + page * kPage))
      .fetch_add(1, std::memory_order_relaxed);
}

void reply(const std::string& text) {
  std::cout << text << std::endl;  // endl flushes: the test waits for each line
}

const char* env_or_dash(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "-";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FILE BYTES\n", argv[0]);
    return 2;
  }
  const uint64_t bytes = std::strtoull(argv[2], nullptr, 10);
  const uint64_t pages = bytes / kPage;
  const int fd = ::open(argv[1], O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::perror(argv[1]);
    return 1;
  }
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  auto* memory = static_cast<std::byte*>(mapped);

  std::atomic<bool> spinning{false};
  std::atomic<uint64_t> spin_writes{0};
  std::thread spinner;

  reply("READY");
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    words >> command;
    if (command == "write" || command == "read") {
      uint64_t page;
      bool in_range = true;
      while (words >> page) {
        if (page >= pages) {
          in_range = false;
        } else if (command == "write") {
          bump(memory, page);
        } else {
          (void)*static_cast<volatile unsigned char*>(
              static_cast<void*>(memory + page * kPage + 8));
        }
      }
      reply(in_range ? "OK" : "ERR page out of range");
    } else if (command == "fill") {
      for (uint64_t page = 0; page < pages; ++page) bump(memory, page);
      reply("OK");
    } else if (command == "spin") {
      uint64_t first = 0, count = 0;
      words >> first >> count;
      if (spinning || count == 0 || first + count > pages) {
        reply("ERR bad spin");
        continue;
      }
      spinning = true;
      spin_writes = 0;
      spinner = std::thread([&, first, count] {
        uint64_t state = 0x9e3779b97f4a7c15ull ^ first;
        uint64_t writes = 0;
        while (spinning.load(std::memory_order_relaxed)) {
          state ^= state << 13;  // xorshift64
          state ^= state >> 7;
          state ^= state << 17;
          bump(memory, first + state % count);
          ++writes;
        }
        spin_writes = writes;
      });
      reply("OK");
    } else if (command == "halt") {
      spinning = false;
      if (spinner.joinable()) spinner.join();
      reply("OK " + std::to_string(spin_writes.load()));
    } else if (command == "env") {
      reply(std::string("ENV LD_PRELOAD=") + env_or_dash("LD_PRELOAD") +
            " FERRY_UFFD_SOCK=" + env_or_dash("FERRY_UFFD_SOCK"));
    } else if (command == "thp") {
      std::ifstream status("/proc/self/status");
      std::string entry, found = "THP_enabled: ?";
      while (std::getline(status, entry)) {
        if (entry.rfind("THP_enabled:", 0) == 0) found = entry;
      }
      reply(found);
    } else if (command == "exit") {
      break;
    } else {
      reply("ERR unknown command " + command);
    }
  }
  spinning = false;
  if (spinner.joinable()) spinner.join();
  return 0;
}
