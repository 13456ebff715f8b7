/*
 * ferry test guest: a 32-bit multiboot kernel for QEMU whose whole test RAM can be checked by the
 * guest itself, before and after a migration.
 *
 * Test RAM is every usable page from 16 MiB up (below 3 GiB identity mapped, above 4 GiB through a
 * 1 GiB window with PSE-36). Page p always holds pattern(seed, p, gen): a header (p, gen, seed)
 * and a body derived from them. gen is 0 after the fill and w+1 after write number w. Write w goes
 * to page perm(w mod wss_pages), a fixed permutation of the working set (so dirtied pages are
 * scattered, not sequential), which lets the guest compute every page's expected gen from the
 * write counter alone. All state (seed, counters, schedule) lives in guest RAM, so it continues
 * after a migration; a page that missed a write, or a stale or torn copy, fails the check.
 * (Guests over ~5 GiB have several 1 GiB windows; a working set spanning them reloads CR3 on
 * many writes, so their top dirtying rate is lower.)
 *
 * With the boot option disk=1 it also writes sequence-numbered sectors to the first IDE disk
 * (disk_writer.h), which a host reads back with tests/integration/guest_disk.py.
 *
 * Command line: rate=MiB/s (-1 as fast as possible, 0 idle; default 0) wss=MiB fill=MiB seed=N
 *               tick=ms (heartbeat period, default 10)
 *               disk=1 (default 0: no disk I/O at all) drate=sectors/s (default 256; -1 flat out)
 *               dstart=LBA (default 0) dsize=MiB (area, default 16) or dsectors=N
 *               dbatch=sectors per write command and flush (default 8, at most 128)
 * COM1 output:  "BOOT id=<seed> ...", with disk=1 "DISK state=... ", "FILLED pages=N ms=T",
 *               "HB <n> <writes>" every tick ms
 * COM1 input:   "v"    -> "VERIFY OK pages=N ..." or "VERIFY FAIL page=P word=J expected=X
 *                         found=Y ..."
 *               "s"    -> "STATUS writes=W rate=R ..."
 *               "r N"  -> "RATE rate=N writes=W"
 *               "d", "dr N", "dv" -> the disk's "DISK ...", "DRATE ...", "DVERIFY ..."
 *                         (disk_commands.h)
 *               anything else -> "ERR unknown command: ..."
 * Test page p is guest-physical page 4096 + p (below 3 GiB); write w went to page
 * (w * stride) mod wss_pages, stride as printed in the BOOT line.
 */
#include "tests/guest/console.h"
#include "tests/guest/disk_commands.h"
#include "tests/guest/disk_writer.h"
#include "tests/guest/guest_types.h"

#define TEST_RAM_START 0x1000000u /* 16 MiB: below it live the kernel, its stack, the boot info */
#define LOW_RAM_LIMIT 0xC0000000u /* identity mapped with 4 MiB pages */
#define WINDOW_BASE 0xC0000000u   /* 1 GiB window onto RAM above 4 GiB */
#define PAGE_WORDS 1024u
#define HEADER_WORDS 4u

/* ---------------- clock: the TSC, calibrated against the PIT ---------------- */
static u64 tsc_hz;

static void calibrate_clock(void) {
  const u32 latch = 1193182 / 20; /* PIT channel 2, one-shot of 50 ms */
  u64 start;
  outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01));
  outb(0x43, 0xB0);
  outb(0x42, (u8)(latch & 0xFF));
  outb(0x42, (u8)(latch >> 8));
  start = rdtsc();
  while (!(inb(0x61) & 0x20)) {
  }
  tsc_hz = (rdtsc() - start) * 20;
  if (tsc_hz == 0) tsc_hz = 1000000000ull;
}
static u64 ticks_from_ms(u64 ms) {
  return tsc_hz / 1000 * ms;
}
static u64 ms_from_ticks(u64 ticks) {
  return ticks / (tsc_hz / 1000);
}

/* ---------------- memory: which pages exist and where they are mapped ---------------- */
static u32 page_dir[1024] __attribute__((aligned(4096)));
static u32 low_pages;  /* test pages in [16 MiB, end of low RAM) */
static u64 high_base;  /* first RAM region above 4 GiB */
static u32 high_pages; /* its pages, reachable through the window */
static int mapped_window = -1;

static u32 pde_4m(u64 phys) {
  /* present | writable | 4 MiB page; PSE-36 puts physical bits 32..39 into bits 13..20 */
  return (u32)(phys & 0xFFC00000u) | (u32)(((phys >> 32) & 0xFF) << 13) | 0x83;
}
static void load_page_dir(void) {
  __asm__ volatile("mov %0, %%cr3" ::"r"(page_dir) : "memory");
}

static void enable_paging(void) {
  u32 i, reg;
  for (i = 0; i < 1024; i++) page_dir[i] = pde_4m((u64)i << 22);
  __asm__ volatile("mov %%cr4, %0" : "=r"(reg));
  __asm__ volatile("mov %0, %%cr4" ::"r"(reg | 0x10)); /* PSE */
  load_page_dir();
  __asm__ volatile("mov %%cr0, %0" : "=r"(reg));
  __asm__ volatile("mov %0, %%cr0" ::"r"(reg | 0x80000000u) : "memory");
}
static int cpu_has_pse36(void) {
  u32 a = 1, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return (d >> 17) & 1;
}
static void map_window(int window) {
  u64 base = high_base + ((u64)window << 30);
  u32 j;
  for (j = 0; j < 256; j++) page_dir[768 + j] = pde_4m(base + ((u64)j << 22));
  load_page_dir();
  mapped_window = window;
}
static u32* page_at(u32 p) {
  u64 offset;
  if (p < low_pages) return (u32*)(TEST_RAM_START + (p << 12));
  offset = (u64)(p - low_pages) << 12;
  if ((int)(offset >> 30) != mapped_window) map_window((int)(offset >> 30));
  return (u32*)(WINDOW_BASE + (u32)(offset & 0x3FFFFFFFu));
}

/* Reads the multiboot memory map: the low RAM region that holds 1 MiB and the first one above 4
 * GiB. */
static void find_ram(const u32* info) {
  u64 low_end = 0;
  if (info[0] & (1u << 6)) {
    u32 length = info[11], address = info[12], offset = 0;
    while (offset < length) {
      const u32* entry = (const u32*)(address + offset);
      u64 base = ((u64)entry[2] << 32) | entry[1];
      u64 size = ((u64)entry[4] << 32) | entry[3];
      if (entry[5] == 1 && base <= 0x100000 && base + size > 0x100000) low_end = base + size;
      if (entry[5] == 1 && base >= 0x100000000ull && high_pages == 0) {
        high_base = base;
        high_pages = (u32)(size >> 12);
      }
      offset += entry[0] + 4;
    }
  } else if (info[0] & 1u) {
    low_end = 0x100000 + (u64)info[2] * 1024;
  }
  if (low_end > LOW_RAM_LIMIT) low_end = LOW_RAM_LIMIT;
  low_pages = low_end > TEST_RAM_START ? (u32)((low_end - TEST_RAM_START) >> 12) : 0;
  if ((high_base & 0x3FFFFF) || !cpu_has_pse36()) high_pages = 0;
}

/* ---------------- the page pattern ---------------- */
static u32 seed;

static u32 body_start(u32 p, u64 gen) {
  u32 v = seed ^ (p * 0x9E3779B1u) ^ ((u32)gen * 0x85EBCA77u) ^ ((u32)(gen >> 32) * 0xC2B2AE3Du);
  v ^= v >> 15;
  v *= 0x2C1B3C6Du;
  v ^= v >> 12;
  return v ? v : 0x6A09E667u; /* xorshift needs a non-zero state */
}
static inline u32 next_word(u32 v) {
  v ^= v << 13;
  v ^= v >> 17;
  v ^= v << 5;
  return v;
}
static void write_page(u32 p, u64 gen) {
  u32* w = page_at(p);
  u32 j, v = body_start(p, gen);
  w[0] = p;
  w[1] = (u32)gen;
  w[2] = (u32)(gen >> 32);
  w[3] = seed;
  for (j = HEADER_WORDS; j < PAGE_WORDS; j++) {
    v = next_word(v);
    w[j] = v;
  }
}
/* Returns the first word that differs from pattern(seed, p, gen), or -1 when the page is right. */
static int check_page(u32 p, u64 gen, u32* expected, u32* found) {
  const u32* w = page_at(p);
  u32 header[HEADER_WORDS] = {p, (u32)gen, (u32)(gen >> 32), seed};
  u32 j, v = body_start(p, gen);
  for (j = 0; j < HEADER_WORDS; j++) {
    if (w[j] != header[j]) {
      *expected = header[j];
      *found = w[j];
      return (int)j;
    }
  }
  for (j = HEADER_WORDS; j < PAGE_WORDS; j++) {
    v = next_word(v);
    if (w[j] != v) {
      *expected = v;
      *found = w[j];
      return (int)j;
    }
  }
  return -1;
}

/* ---------------- the write walk over the working set ---------------- */
static u32 fill_pages, wss_pages, stride, stride_inverse;
static u64 writes;     /* writes done */
static u32 walk_index; /* writes % wss_pages */

static u32 gcd(u32 a, u32 b) {
  while (b) {
    u32 t = a % b;
    a = b;
    b = t;
  }
  return a;
}
static u32 inverse_mod(u32 a, u32 n) {
  s64 t = 0, new_t = 1, r = n, new_r = a, q, tmp;
  while (new_r) {
    q = r / new_r;
    tmp = t - q * new_t, t = new_t, new_t = tmp;
    tmp = r - q * new_r, r = new_r, new_r = tmp;
  }
  return (u32)(t < 0 ? t + n : t);
}
static void choose_walk(void) {
  stride = wss_pages > 2 ? (u32)((u64)wss_pages * 40503 / 65536) | 1 : 1; /* ~0.618 * wss */
  while (wss_pages > 1 && gcd(stride, wss_pages) != 1) stride += 2;
  stride_inverse = wss_pages > 1 ? inverse_mod(stride, wss_pages) : 0;
}
static u64 expected_gen(u32 p) {
  u32 index;
  if (p >= wss_pages) return 0;
  index = (u32)((u64)p * stride_inverse % wss_pages);
  if (writes <= index) return 0;
  return index + (u64)wss_pages * ((writes - 1 - index) / wss_pages) + 1;
}
static void write_next(void) {
  write_page((u32)((u64)walk_index * stride % wss_pages), writes + 1);
  writes++;
  if (++walk_index == wss_pages) walk_index = 0;
}

/* ---------------- rate control ---------------- */
static s64 rate_mib;
static u64 schedule_start, schedule_writes, ticks_per_write;

static void set_rate(s64 mib_per_s) {
  rate_mib = mib_per_s;
  schedule_start = rdtsc();
  schedule_writes = writes;
  ticks_per_write = mib_per_s > 0 ? tsc_hz / ((u64)mib_per_s * 256) : 0;
  if (mib_per_s > 0 && ticks_per_write == 0) ticks_per_write = 1;
}
static void run_writer(u64 now) {
  int batch;
  if (wss_pages == 0 || rate_mib == 0) return;
  for (batch = 0; batch < 16; batch++) {
    if (rate_mib > 0) {
      u64 due = schedule_start + (writes - schedule_writes) * ticks_per_write;
      if (now < due) return;
      if (now - due > tsc_hz / 10) { /* far behind (a verify, a slow host): restart, no burst */
        schedule_start = now;
        schedule_writes = writes;
      }
    }
    write_next();
  }
}

/* ---------------- reports and commands ---------------- */
static u64 boot_tsc, heartbeats, verifies, verify_failures;

static void verify_all(void) {
  u64 start = rdtsc();
  u32 p, bad = 0, first_page = 0, first_word = 0, expected = 0, found = 0;
  for (p = 0; p < fill_pages; p++) {
    u32 e, f;
    int word = check_page(p, expected_gen(p), &e, &f);
    if (word >= 0 && bad++ == 0) first_page = p, first_word = (u32)word, expected = e, found = f;
  }
  verifies++;
  if (bad) {
    const u32* w = page_at(first_page);
    verify_failures++;
    put_str("VERIFY FAIL");
    put_field("page", first_page);
    put_field("word", first_word);
    put_str(" expected=");
    put_hex(expected);
    put_str(" found=");
    put_hex(found);
    put_field("gen_expected", expected_gen(first_page));
    put_field("gen_found", ((u64)w[2] << 32) | w[1]);
    put_field("bad", bad);
  } else {
    put_str("VERIFY OK");
  }
  put_field("pages", fill_pages);
  put_field("writes", writes);
  put_field("ms", ms_from_ticks(rdtsc() - start));
  put_char('\n');
}
static void print_status(void) {
  put_str("STATUS");
  put_field("writes", writes);
  put_str(" rate=");
  put_sdec(rate_mib);
  put_field("id", seed);
  put_field("hb", heartbeats);
  put_field("fill_pages", fill_pages);
  put_field("wss_pages", wss_pages);
  put_field("uptime_ms", ms_from_ticks(rdtsc() - boot_tsc));
  put_field("verifies", verifies);
  put_field("fails", verify_failures);
  put_char('\n');
}

static int starts_with(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return 0;
  return 1;
}
static s64 parse_int(const char* s) {
  s64 v = 0;
  int negative = *s == '-';
  if (negative) s++;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return negative ? -v : v;
}

static char command[64];
static u32 command_length;

static void run_command(void) {
  const char* arg = command + 1;
  const char* disk_arg = command[0] && command[1] ? command + 2 : command + 1;
  while (*arg == ' ') arg++;
  while (*disk_arg == ' ') disk_arg++;
  if (command[0] == 'v' && command[1] == 0) {
    verify_all();
  } else if (command[0] == 's' && command[1] == 0) {
    print_status();
  } else if (command[0] == 'r' && (command[1] == ' ' || command[1] == 0)) {
    set_rate(parse_int(arg));
    put_str("RATE rate=");
    put_sdec(rate_mib);
    put_field("writes", writes);
    put_char('\n');
  } else if (command[0] == 'd' && command[1] == 0) {
    disk_report_status();
  } else if (command[0] == 'd' && command[1] == 'r' && (command[2] == ' ' || command[2] == 0)) {
    disk_command_rate(parse_int(disk_arg), rdtsc());
  } else if (command[0] == 'd' && command[1] == 'v' && command[2] == 0) {
    disk_command_verify(tsc_hz);
  } else {
    put_str("ERR unknown command: ");
    put_str(command);
    put_char('\n');
  }
}
static void poll_commands(void) {
  int c;
  while ((c = read_char()) >= 0) {
    if (c == '\r' || c == '\n') {
      command[command_length] = 0;
      if (command_length) run_command();
      command_length = 0;
    } else if (command_length < sizeof(command) - 1) {
      command[command_length++] = (char)c;
    }
  }
}

/* ---------------- boot ---------------- */
static u64 tick_ms = 10;
static int disk_enabled;
static struct disk_config disk = {0, 0, 16u << 11, 256, 8};

static void parse_command_line(const char* s) {
  s64 wss_mib = -1, fill_mib = -1, disk_mib = -1, disk_sectors = -1;
  u32 usable = low_pages + high_pages;
  while (s && *s) {
    while (*s == ' ') s++;
    if (starts_with(s, "rate=")) rate_mib = parse_int(s + 5);
    if (starts_with(s, "wss=")) wss_mib = parse_int(s + 4);
    if (starts_with(s, "fill=")) fill_mib = parse_int(s + 5);
    if (starts_with(s, "seed=")) seed = (u32)parse_int(s + 5);
    if (starts_with(s, "tick=")) tick_ms = (u64)parse_int(s + 5);
    if (starts_with(s, "disk=")) disk_enabled = parse_int(s + 5) != 0;
    if (starts_with(s, "drate=")) disk.rate = parse_int(s + 6);
    if (starts_with(s, "dstart=")) disk.start_lba = (u32)parse_int(s + 7);
    if (starts_with(s, "dsize=")) disk_mib = parse_int(s + 6);
    if (starts_with(s, "dsectors=")) disk_sectors = parse_int(s + 9);
    if (starts_with(s, "dbatch=")) disk.batch = (u32)parse_int(s + 7);
    while (*s && *s != ' ') s++;
  }
  fill_pages = usable;
  if (fill_mib >= 0 && (u64)fill_mib * 256 < fill_pages) fill_pages = (u32)(fill_mib * 256);
  wss_pages = fill_pages;
  if (wss_mib >= 0 && (u64)wss_mib * 256 < wss_pages) wss_pages = (u32)(wss_mib * 256);
  if (tick_ms == 0) tick_ms = 10;
  if (disk_mib > 0) disk.sectors = disk_mib >= 128 * 1024 ? 0xFFFFFFFFu : (u32)(disk_mib << 11);
  if (disk_sectors > 0) disk.sectors = disk_sectors > 0xFFFFFFFF ? 0xFFFFFFFFu : (u32)disk_sectors;
}

void guest_main(u32 magic, const u32* info) {
  u64 start, next_heartbeat, next_poll = 0;
  u32 p;
  serial_init();
  if (magic != 0x2BADB002u) {
    put_str("ERR not started by a multiboot loader\n");
    return;
  }
  calibrate_clock();
  boot_tsc = rdtsc();
  find_ram(info);
  parse_command_line((info[0] & 4u) ? (const char*)info[4] : 0);
  if (seed == 0) seed = (u32)(boot_tsc ^ (boot_tsc >> 29)) * 2654435761u | 1;
  enable_paging();
  choose_walk();

  put_str("BOOT id=");
  put_dec(seed);
  put_field("fill_pages", fill_pages);
  put_field("wss_pages", wss_pages);
  put_field("stride", stride);
  put_str(" rate=");
  put_sdec(rate_mib);
  put_field("tick", tick_ms);
  put_field("low_pages", low_pages);
  put_field("high_pages", high_pages);
  put_field("tsc_hz", tsc_hz);
  put_char('\n');
  if (disk_enabled) {
    disk.boot_id = seed;
    disk_writer_start(&disk, tsc_hz);
    disk_report_status();
  }

  start = rdtsc();
  for (p = 0; p < fill_pages; p++) write_page(p, 0);
  put_str("FILLED");
  put_field("pages", fill_pages);
  put_field("ms", ms_from_ticks(rdtsc() - start));
  put_char('\n');

  set_rate(rate_mib);
  if (disk_enabled) disk_writer_set_rate(disk_writer_status()->rate, rdtsc());
  next_heartbeat = rdtsc() + ticks_from_ms(tick_ms);
  for (;;) {
    u64 now = rdtsc();
    run_writer(now);
    disk_writer_run(now);
    if (now >= next_heartbeat) {
      put_str("HB ");
      put_dec(++heartbeats);
      put_char(' ');
      put_dec(writes);
      put_char('\n');
      next_heartbeat += ticks_from_ms(tick_ms);
      if (next_heartbeat < now) next_heartbeat = now + ticks_from_ms(tick_ms);
    }
    if (now >= next_poll) {
      poll_commands();
      next_poll = now + ticks_from_ms(2);
    }
    if (rate_mib == 0) __asm__ volatile("pause");
  }
}
