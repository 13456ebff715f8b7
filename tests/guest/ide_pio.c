#include "tests/guest/ide_pio.h"

#define ATA_DATA 0x1F0
#define ATA_ERROR 0x1F1
#define ATA_COUNT 0x1F2
#define ATA_LBA_LOW 0x1F3
#define ATA_LBA_MID 0x1F4
#define ATA_LBA_HIGH 0x1F5
#define ATA_DRIVE 0x1F6
#define ATA_STATUS 0x1F7  /* read */
#define ATA_COMMAND 0x1F7 /* write */
#define ATA_CONTROL 0x3F6 /* write: device control; read: alternate status (no side effect) */

#define STATUS_BSY 0x80
#define STATUS_DF 0x20
#define STATUS_DRQ 0x08
#define STATUS_ERR 0x01

#define CONTROL_NIEN 0x02
#define CONTROL_SRST 0x04

#define CMD_READ_SECTORS 0x20
#define CMD_WRITE_SECTORS 0x30
#define CMD_CACHE_FLUSH 0xE7
#define CMD_IDENTIFY 0xEC

#define LBA28_LIMIT 0x10000000u

static u64 busy_timeout;
static u16 identify_words[256];

const char* ide_failure_name(enum ide_failure failure) {
  switch (failure) {
    case IDE_OK:
      return "none";
    case IDE_NO_CONTROLLER:
      return "no-controller";
    case IDE_NO_DRIVE:
      return "no-drive";
    case IDE_NOT_ATA:
      return "not-ata";
    case IDE_NO_LBA:
      return "no-lba";
    case IDE_TIMEOUT:
      return "timeout";
    case IDE_DEVICE_ERROR:
      return "device-error";
    case IDE_NO_DATA:
      return "no-data";
    case IDE_BAD_REQUEST:
      return "bad-request";
  }
  return "unknown";
}

/* The drive needs 400 ns after a command or a drive select before its status means anything:
 * four reads of the alternate status take that long on real hardware. */
static void settle(void) {
  int i;
  for (i = 0; i < 4; i++) (void)inb(ATA_CONTROL);
}

static enum ide_failure fail(struct ide_fault* fault, enum ide_failure failure, u8 command, u32 lba,
                             u8 status) {
  fault->failure = failure;
  fault->command = command;
  fault->lba = lba;
  fault->status = status;
  fault->error = (status & STATUS_ERR) ? inb(ATA_ERROR) : 0;
  return failure;
}

/* Waits for BSY to clear; returns the status (reading it also acknowledges the drive's
 * interrupt), or sets *timed_out. A VM paused by a migration freezes the TSC with it, but a
 * deadline that passes while the guest was not running still gets a short grace period of real
 * polling before it counts. */
static u8 wait_not_busy(int* timed_out) {
  u64 start = rdtsc(), grace_start = 0;
  u8 status;
  *timed_out = 0;
  for (;;) {
    status = inb(ATA_STATUS);
    if (!(status & STATUS_BSY)) return status;
    if (rdtsc() - start > busy_timeout) {
      if (grace_start == 0) {
        grace_start = rdtsc();
      } else if (rdtsc() - grace_start > busy_timeout / 16) {
        *timed_out = 1;
        return status;
      }
    }
    __asm__ volatile("pause");
  }
}

static u8 drive_select_value(u32 lba) {
  return (u8)(0xE0 | ((lba >> 24) & 0x0F)); /* LBA mode, drive 0, LBA bits 24..27 */
}

static enum ide_failure select_drive(u8 value, u8 command, u32 lba, struct ide_fault* fault) {
  int timed_out;
  u8 status = wait_not_busy(&timed_out);
  if (timed_out) return fail(fault, IDE_TIMEOUT, command, lba, status);
  outb(ATA_DRIVE, value);
  settle();
  status = wait_not_busy(&timed_out);
  if (timed_out) return fail(fault, IDE_TIMEOUT, command, lba, status);
  return IDE_OK;
}

void ide_init(u64 timeout_ticks) {
  busy_timeout = timeout_ticks;
  outb(ATA_CONTROL, CONTROL_NIEN);
}

void ide_reset(void) {
  int timed_out;
  outb(ATA_CONTROL, CONTROL_NIEN | CONTROL_SRST);
  settle();
  outb(ATA_CONTROL, CONTROL_NIEN);
  settle();
  (void)wait_not_busy(&timed_out);
}

enum ide_failure ide_identify(u32* sectors, struct ide_fault* fault) {
  int timed_out;
  u8 status = inb(ATA_CONTROL);
  if (status == 0xFF) return fail(fault, IDE_NO_CONTROLLER, CMD_IDENTIFY, 0, status);
  outb(ATA_DRIVE, 0xA0); /* drive 0, before the LBA bit means anything */
  settle();
  outb(ATA_COUNT, 0);
  outb(ATA_LBA_LOW, 0);
  outb(ATA_LBA_MID, 0);
  outb(ATA_LBA_HIGH, 0);
  outb(ATA_COMMAND, CMD_IDENTIFY);
  settle();
  status = inb(ATA_STATUS);
  if (status == 0) return fail(fault, IDE_NO_DRIVE, CMD_IDENTIFY, 0, status);
  status = wait_not_busy(&timed_out);
  if (timed_out) return fail(fault, IDE_TIMEOUT, CMD_IDENTIFY, 0, status);
  /* ATAPI and SATA devices abort IDENTIFY and leave their signature in the LBA registers. */
  if (inb(ATA_LBA_MID) != 0 || inb(ATA_LBA_HIGH) != 0) {
    return fail(fault, IDE_NOT_ATA, CMD_IDENTIFY, 0, status);
  }
  if (status & (STATUS_ERR | STATUS_DF)) {
    return fail(fault, IDE_DEVICE_ERROR, CMD_IDENTIFY, 0, status);
  }
  if (!(status & STATUS_DRQ)) return fail(fault, IDE_NO_DATA, CMD_IDENTIFY, 0, status);
  insw(ATA_DATA, identify_words, 256);
  if (!(identify_words[49] & (1u << 9))) {
    return fail(fault, IDE_NO_LBA, CMD_IDENTIFY, 0, status);
  }
  *sectors = identify_words[60] | ((u32)identify_words[61] << 16);
  return IDE_OK;
}

static enum ide_failure start_transfer(u8 command, u32 lba, u32 count, struct ide_fault* fault) {
  enum ide_failure failure;
  if (count == 0 || count > IDE_MAX_SECTORS || lba >= LBA28_LIMIT || count > LBA28_LIMIT - lba) {
    return fail(fault, IDE_BAD_REQUEST, command, lba, 0);
  }
  failure = select_drive(drive_select_value(lba), command, lba, fault);
  if (failure != IDE_OK) return failure;
  outb(ATA_COUNT, (u8)count); /* 256 wraps to 0, which the drive reads as 256 */
  outb(ATA_LBA_LOW, (u8)lba);
  outb(ATA_LBA_MID, (u8)(lba >> 8));
  outb(ATA_LBA_HIGH, (u8)(lba >> 16));
  outb(ATA_COMMAND, command);
  return IDE_OK;
}

/* Before each sector's data moves, the drive must be ready for it: not busy, no error, DRQ. */
static enum ide_failure wait_for_data(u8 command, u32 lba, struct ide_fault* fault) {
  int timed_out;
  u8 status;
  settle();
  status = wait_not_busy(&timed_out);
  if (timed_out) return fail(fault, IDE_TIMEOUT, command, lba, status);
  if (status & (STATUS_ERR | STATUS_DF)) return fail(fault, IDE_DEVICE_ERROR, command, lba, status);
  if (!(status & STATUS_DRQ)) return fail(fault, IDE_NO_DATA, command, lba, status);
  return IDE_OK;
}

static enum ide_failure wait_done(u8 command, u32 lba, struct ide_fault* fault) {
  int timed_out;
  u8 status;
  settle();
  status = wait_not_busy(&timed_out);
  if (timed_out) return fail(fault, IDE_TIMEOUT, command, lba, status);
  if (status & (STATUS_ERR | STATUS_DF)) return fail(fault, IDE_DEVICE_ERROR, command, lba, status);
  return IDE_OK;
}

enum ide_failure ide_read(u32 lba, u32 count, void* buffer, struct ide_fault* fault) {
  u8* at = (u8*)buffer;
  u32 k;
  enum ide_failure failure = start_transfer(CMD_READ_SECTORS, lba, count, fault);
  if (failure != IDE_OK) return failure;
  for (k = 0; k < count; k++, at += IDE_SECTOR_BYTES) {
    failure = wait_for_data(CMD_READ_SECTORS, lba + k, fault);
    if (failure != IDE_OK) return failure;
    insw(ATA_DATA, at, IDE_SECTOR_BYTES / 2);
  }
  return wait_done(CMD_READ_SECTORS, lba + count - 1, fault);
}

enum ide_failure ide_write(u32 lba, u32 count, const void* buffer, struct ide_fault* fault) {
  const u8* at = (const u8*)buffer;
  u32 k;
  enum ide_failure failure = start_transfer(CMD_WRITE_SECTORS, lba, count, fault);
  if (failure != IDE_OK) return failure;
  for (k = 0; k < count; k++, at += IDE_SECTOR_BYTES) {
    failure = wait_for_data(CMD_WRITE_SECTORS, lba + k, fault);
    if (failure != IDE_OK) return failure;
    outsw(ATA_DATA, at, IDE_SECTOR_BYTES / 2);
  }
  /* The last sector is written once BSY clears again. */
  return wait_done(CMD_WRITE_SECTORS, lba + count - 1, fault);
}

enum ide_failure ide_flush(struct ide_fault* fault) {
  enum ide_failure failure = select_drive(drive_select_value(0), CMD_CACHE_FLUSH, 0, fault);
  if (failure != IDE_OK) return failure;
  outb(ATA_COMMAND, CMD_CACHE_FLUSH);
  return wait_done(CMD_CACHE_FLUSH, 0, fault);
}
