/* Preloaded into the guest process (LD_PRELOAD): creates a userfaultfd inside it before main()
 * runs and hands it to the ferry engine over a unix socket (SCM_RIGHTS), with one status line:
 * "OK\n", or "ERR <what>\n" when the uffd could not be set up. The engine then registers the
 * guest's RAM for async write-protect tracking through that descriptor.
 *
 *   FERRY_UFFD_SOCK=<path>     the engine's listening socket (nothing happens without it)
 *   FERRY_UFFD_THP_DISABLE=1   prctl(PR_SET_THP_DISABLE): 4 KiB pages, so a write dirties 4 KiB
 *
 * Plain C, no C++ runtime: it runs inside somebody else's program. It never stops the guest:
 * every failure is reported (stderr and the socket) and the guest starts untracked. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* Debian 12's kernel headers (6.1) lack these; values from the kernel's uapi userfaultfd.h. */
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define SOCK_ENV "FERRY_UFFD_SOCK"
#define THP_ENV "FERRY_UFFD_THP_DISABLE"
#define LIBRARY_NAME "libferry_uffd_preload.so"

static void complain(const char* fmt, ...) {
  char text[384];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  fprintf(stderr, "ferry uffd preload (pid %d): %s\n", (int)getpid(), text);
}

/* Children of the guest must not load us again: drop this library from LD_PRELOAD, keeping any
 * other preloaded library the guest was started with. */
static void forget_preload(void) {
  const char* list = getenv("LD_PRELOAD");
  if (list == NULL) return;
  char kept[4096] = "";
  size_t used = 0;
  const char* entry = list;
  while (*entry != '\0') {
    size_t length = strcspn(entry, ": ");
    if (length > 0) {
      const char* base = entry;
      for (const char* c = entry; c < entry + length; ++c)
        if (*c == '/') base = c + 1;
      int ours = (size_t)(entry + length - base) == strlen(LIBRARY_NAME) &&
                 memcmp(base, LIBRARY_NAME, strlen(LIBRARY_NAME)) == 0;
      if (!ours) {
        if (used + length + 2 > sizeof kept) { /* absurdly long: dropping it all is safer */
          unsetenv("LD_PRELOAD");
          return;
        }
        if (used > 0) kept[used++] = ':';
        memcpy(kept + used, entry, length);
        used += length;
        kept[used] = '\0';
      }
    }
    entry += length;
    if (*entry != '\0') ++entry;
  }
  if (used == 0)
    unsetenv("LD_PRELOAD");
  else
    setenv("LD_PRELOAD", kept, 1);
}

/* Returns the uffd ready for async write-protect, or -1 with `status` set to "ERR ...". */
static int make_uffd(char* status, size_t status_size) {
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (uffd < 0 && errno == EPERM) /* vm.unprivileged_userfaultfd=0 and not privileged */
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (uffd < 0) {
    snprintf(status, status_size, "ERR userfaultfd: %s", strerror(errno));
    return -1;
  }
  /* UFFDIO_API succeeds once per uffd, so it is done here and the engine can attach and detach
   * for every migration of this guest. */
  struct uffdio_api api;
  memset(&api, 0, sizeof api);
  api.api = UFFD_API;
  api.features =
      UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
  if (ioctl(uffd, UFFDIO_API, &api) != 0) {
    snprintf(status, status_size,
             "ERR UFFDIO_API (features WP_ASYNC|WP_UNPOPULATED|WP_HUGETLBFS_SHMEM): %s "
             "(Linux >= 6.7 is needed)",
             strerror(errno));
    close(uffd);
    return -1;
  }
  return uffd;
}

/* Sends the status line, with the uffd attached when there is one. */
static int send_status(const char* path, int uffd, const char* status) {
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof address.sun_path) {
    complain("socket path %s is too long", path);
    return -1;
  }
  strcpy(address.sun_path, path);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    complain("socket: %s", strerror(errno));
    return -1;
  }
  int rc;
  do {
    rc = connect(sock, (struct sockaddr*)&address, sizeof address);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    complain("connect %s: %s", path, strerror(errno));
    close(sock);
    return -1;
  }
  char line[320];
  size_t length = (size_t)snprintf(line, sizeof line, "%s\n", status);
  if (length >= sizeof line) length = sizeof line - 1;
  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {line, length};
  struct msghdr message;
  memset(&message, 0, sizeof message);
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (uffd >= 0) {
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &uffd, sizeof(int));
  }
  size_t sent = 0;
  while (sent < length) {
    ssize_t n = sendmsg(sock, &message, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      complain("sendmsg %s: %s", path, n < 0 ? strerror(errno) : "nothing sent");
      close(sock);
      return -1;
    }
    sent += (size_t)n;
    iov.iov_base = line + sent;
    iov.iov_len = length - sent;
    message.msg_control = NULL; /* the descriptor went with the first byte */
    message.msg_controllen = 0;
  }
  close(sock);
  return 0;
}

__attribute__((constructor)) static void ferry_uffd_preload_init(void) {
  const char* thp = getenv(THP_ENV);
  if (thp != NULL && strcmp(thp, "1") == 0 && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
    complain("prctl(PR_SET_THP_DISABLE): %s", strerror(errno));

  const char* env_path = getenv(SOCK_ENV);
  if (env_path == NULL) return;
  char path[sizeof(((struct sockaddr_un*)0)->sun_path) + 1];
  snprintf(path, sizeof path, "%s", env_path); /* copied: unsetenv may drop the original */
  forget_preload();
  unsetenv(SOCK_ENV);
  unsetenv(THP_ENV);

  char status[256] = "OK";
  int uffd = make_uffd(status, sizeof status);
  if (uffd < 0) complain("%s", status + 4);
  if (send_status(path, uffd, status) != 0 && uffd >= 0) {
    close(uffd); /* nobody will track us: do not keep an idle uffd */
    return;
  }
  /* The guest keeps its copy of the uffd open for its whole life; the engine holds another. */
}
