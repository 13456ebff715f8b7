/*
 * The test guest's disk writer: sequence-numbered sectors (disk_sector.h) written in LBA order over
 * an area of the IDE disk, wrapping, at a set rate; each WRITE SECTORS batch is followed by a
 * CACHE FLUSH. Its counters live in guest RAM (kernel memory below the test RAM), so after a live
 * migration the destination continues the sequence where the source stopped.
 */
#pragma once

#include "tests/guest/disk_sector.h"
#include "tests/guest/ide_pio.h"

struct disk_config {
  u32 boot_id;
  u32 start_lba;
  u32 sectors; /* area size; clamped to the disk's capacity */
  s64 rate;    /* sectors per second; 0 stops; -1 as fast as the disk goes */
  u32 batch;   /* sectors per WRITE SECTORS and flush, 1..DISK_MAX_BATCH */
};
#define DISK_MAX_BATCH 128u

enum disk_state { DISK_OFF = 0, DISK_ON, DISK_FAILED };

struct disk_status {
  enum disk_state state;
  struct disk_area area;
  u32 capacity; /* the drive's LBA28 sectors (IDENTIFY) */
  s64 rate;
  u32 batch;
  u64 written; /* highest sequence number whose WRITE SECTORS completed */
  u64 flushed; /* highest sequence number a CACHE FLUSH completed after */
  u64 write_commands, flushes, errors;
  struct ide_fault last_error; /* failure IDE_OK while there was none */
  const char* last_error_step; /* "identify", "area", "write", "flush", "read" or "none" */
};

/* IDENTIFY and area set-up; the state says whether it worked (DISK_FAILED and last_error if not).
 */
void disk_writer_start(const struct disk_config* config, u64 tsc_hz);
/* Writes the sectors that are due at `now` (at most one batch), then flushes. */
void disk_writer_run(u64 now);
void disk_writer_set_rate(s64 rate, u64 now);
const struct disk_status* disk_writer_status(void);

struct disk_verification {
  u32 sectors_checked;  /* the whole area */
  u32 sectors_expected; /* positions this boot has written */
  u32 bad;
  u32 first_bad_lba, first_bad_word, expected, found;
  u64 expected_seq, found_seq;
  int read_failed; /* then last_error says where */
};
/* Reads the area back (READ SECTORS) and checks every sector against the sequence written so
 * far. */
void disk_writer_verify(struct disk_verification* result);
