#include "tests/guest/disk_writer.h"

#define RETRY_MS 100

static struct disk_status status;
static u64 clock_hz, ticks_per_sector, schedule_start, schedule_written, retry_at;
static u32 buffer[DISK_MAX_BATCH * DISK_SECTOR_WORDS];

static void record_error(const char* step, const struct ide_fault* fault, u64 now) {
  status.errors++;
  status.last_error = *fault;
  status.last_error_step = step;
  retry_at = now + clock_hz / 1000 * RETRY_MS;
  if (fault->failure == IDE_TIMEOUT) ide_reset();
}

void disk_writer_start(const struct disk_config* config, u64 tsc_hz) {
  struct ide_fault fault = {IDE_OK, 0, 0, 0, 0};
  u32 capacity = 0;
  clock_hz = tsc_hz;
  status.state = DISK_FAILED;
  status.last_error_step = "none";
  status.area.boot_id = config->boot_id;
  status.area.start_lba = config->start_lba;
  status.batch = config->batch < 1                ? 1
                 : config->batch > DISK_MAX_BATCH ? DISK_MAX_BATCH
                                                  : config->batch;
  status.rate = config->rate;
  ide_init(tsc_hz * 10); /* a flush to a slow image file can take seconds */
  if (ide_identify(&capacity, &fault) != IDE_OK) {
    record_error("identify", &fault, 0);
    return;
  }
  status.capacity = capacity;
  if (config->start_lba >= capacity) {
    fault.failure = IDE_BAD_REQUEST;
    fault.lba = config->start_lba;
    record_error("area", &fault, 0);
    return;
  }
  status.area.sectors = config->sectors;
  if (status.area.sectors > capacity - config->start_lba) {
    status.area.sectors = capacity - config->start_lba;
  }
  if (status.area.sectors == 0) {
    fault.failure = IDE_BAD_REQUEST;
    fault.lba = config->start_lba;
    record_error("area", &fault, 0);
    return;
  }
  status.state = DISK_ON;
  retry_at = 0;
}

void disk_writer_set_rate(s64 rate, u64 now) {
  status.rate = rate;
  schedule_start = now;
  schedule_written = status.written;
  ticks_per_sector = rate > 0 ? clock_hz / (u64)rate : 0;
  if (rate > 0 && ticks_per_sector == 0) ticks_per_sector = 1;
}

/* How many sectors are due at `now`: 0 when none, at most one batch. */
static u32 sectors_due(u64 now) {
  u64 due, late;
  if (status.rate < 0) return status.batch;
  due = schedule_start + (status.written - schedule_written) * ticks_per_sector;
  if (now < due) return 0;
  if (now - due > clock_hz / 10) { /* far behind (a verify, a slow host): restart, no burst */
    schedule_start = now;
    schedule_written = status.written;
    return 1;
  }
  late = (now - due) / ticks_per_sector + 1;
  return late < status.batch ? (u32)late : status.batch;
}

void disk_writer_run(u64 now) {
  struct ide_fault fault;
  u64 first;
  u32 count, position, k;
  if (status.state != DISK_ON || now < retry_at) return;
  /* A flush that failed is retried before anything new is written. */
  if (status.flushed < status.written) {
    if (ide_flush(&fault) != IDE_OK) {
      record_error("flush", &fault, now);
      return;
    }
    status.flushes++;
    status.flushed = status.written;
  }
  if (status.rate == 0) return;
  count = sectors_due(now);
  if (count == 0) return;
  first = status.written + 1;
  position = disk_sector_lba(&status.area, first) - status.area.start_lba;
  if (count > status.area.sectors - position) count = status.area.sectors - position; /* no wrap */
  for (k = 0; k < count; k++)
    disk_sector_fill(&status.area, first + k, buffer + k * DISK_SECTOR_WORDS);
  if (ide_write(status.area.start_lba + position, count, buffer, &fault) != IDE_OK) {
    record_error("write", &fault, now); /* the same sequence numbers are written again later */
    return;
  }
  status.write_commands++;
  status.written += count;
  if (ide_flush(&fault) != IDE_OK) {
    record_error("flush", &fault, now);
    return;
  }
  status.flushes++;
  status.flushed = status.written;
}

const struct disk_status* disk_writer_status(void) {
  return &status;
}

void disk_writer_verify(struct disk_verification* result) {
  struct ide_fault fault;
  u32 position = 0;
  *result = (struct disk_verification){0};
  if (status.state != DISK_ON) return;
  while (position < status.area.sectors) {
    u32 count = status.area.sectors - position, k;
    if (count > DISK_MAX_BATCH) count = DISK_MAX_BATCH;
    if (ide_read(status.area.start_lba + position, count, buffer, &fault) != IDE_OK) {
      record_error("read", &fault, rdtsc());
      result->read_failed = 1;
      return;
    }
    for (k = 0; k < count; k++) {
      const u32* words = buffer + k * DISK_SECTOR_WORDS;
      u64 n = disk_sector_latest(&status.area, position + k, status.written);
      u32 expected, found;
      int word = disk_sector_check(&status.area, n, words, &expected, &found);
      if (n) result->sectors_expected++;
      if (word >= 0 && result->bad++ == 0) {
        result->first_bad_lba = status.area.start_lba + position + k;
        result->first_bad_word = (u32)word;
        result->expected = expected;
        result->found = found;
        result->expected_seq = n;
        result->found_seq = words[0] == DISK_MAGIC ? ((u64)words[2] << 32) | words[1] : 0;
      }
    }
    result->sectors_checked += count;
    position += count;
  }
}
