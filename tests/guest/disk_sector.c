#include "tests/guest/disk_sector.h"

u32 disk_sector_lba(const struct disk_area* area, u64 n) {
  return area->start_lba + (u32)((n - 1) % area->sectors);
}

u64 disk_sector_latest(const struct disk_area* area, u32 position, u64 last) {
  u64 base, head;
  if (last == 0) return 0;
  head = (last - 1) % area->sectors; /* the position of `last` itself */
  base = last - 1 - head;            /* sequence numbers base+1 .. base+sectors fill one lap */
  if (position <= head) return base + position + 1;
  return base >= area->sectors ? base - area->sectors + position + 1 : 0;
}

static u32 body_start(u32 boot_id, u64 n, u32 lba) {
  u32 v = boot_id ^ (lba * 0x9E3779B1u) ^ ((u32)n * 0x85EBCA77u) ^ ((u32)(n >> 32) * 0xC2B2AE3Du);
  v ^= v >> 15;
  v *= 0x2C1B3C6Du;
  v ^= v >> 12;
  return v ? v : 0x6A09E667u; /* xorshift needs a non-zero state */
}

static void header(const struct disk_area* area, u64 n, u32* words) {
  words[0] = DISK_MAGIC;
  words[1] = (u32)n;
  words[2] = (u32)(n >> 32);
  words[3] = disk_sector_lba(area, n);
  words[4] = area->boot_id;
  words[5] = area->start_lba;
  words[6] = area->sectors;
  words[7] = DISK_FORMAT_VERSION;
}

void disk_sector_fill(const struct disk_area* area, u64 n, u32* words) {
  u32 j, v;
  header(area, n, words);
  v = body_start(area->boot_id, n, words[3]);
  for (j = DISK_HEADER_WORDS; j < DISK_SECTOR_WORDS; j++) {
    v ^= v << 13;
    v ^= v >> 17;
    v ^= v << 5;
    words[j] = v;
  }
}

int disk_sector_check(const struct disk_area* area, u64 n, const u32* words, u32* expected,
                      u32* found) {
  u32 want[DISK_SECTOR_WORDS], j;
  if (n == 0) {
    /* Never written in this boot: anything but one of this boot's sectors (zeros, an older
     * boot's data) may be there. */
    if (words[0] == DISK_MAGIC && words[4] == area->boot_id) {
      *expected = 0;
      *found = words[1];
      return 1;
    }
    return -1;
  }
  disk_sector_fill(area, n, want);
  for (j = 0; j < DISK_SECTOR_WORDS; j++) {
    if (words[j] != want[j]) {
      *expected = want[j];
      *found = words[j];
      return (int)j;
    }
  }
  return -1;
}
