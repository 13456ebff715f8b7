/*
 * The sectors the test guest writes to its disk. Sequence number n (1, 2, ...) goes to LBA
 * start + (n - 1) mod sectors, and its 512 bytes are a function of (boot id, n, LBA), so a lost,
 * stale, misplaced or torn sector shows. Little-endian 32-bit words:
 *   0 magic "FDSK" (0x4B534446)   1 n, low word   2 n, high word   3 LBA   4 boot id
 *   5 area start LBA   6 area sectors   7 format version (1)
 *   8..127 body: xorshift32 words from a start derived from (boot id, n, LBA)
 * tests/integration/guest_disk.py reads the same format: change both together.
 */
#pragma once

#include "tests/guest/guest_types.h"

#define DISK_SECTOR_WORDS 128u
#define DISK_HEADER_WORDS 8u
#define DISK_MAGIC 0x4B534446u
#define DISK_FORMAT_VERSION 1u

struct disk_area {
  u32 boot_id;
  u32 start_lba;
  u32 sectors;
};

/* The LBA sequence number n (>= 1) goes to. */
u32 disk_sector_lba(const struct disk_area* area, u64 n);
/* The highest sequence number <= last that goes to area position `position`; 0 when none does. */
u64 disk_sector_latest(const struct disk_area* area, u32 position, u64 last);
/* Writes sector n's 512 bytes into `words`. */
void disk_sector_fill(const struct disk_area* area, u64 n, u32* words);
/* Compares `words` with sector n (n = 0: with no expectation but that it is not ours); returns
 * the first differing word, or -1 when the sector is right. */
int disk_sector_check(const struct disk_area* area, u64 n, const u32* words, u32* expected,
                      u32* found);
