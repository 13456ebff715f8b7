/* A minimal legacy IDE (ATA) PIO driver: primary channel (0x1F0, control 0x3F6), drive 0, LBA28,
 * polled (nIEN set: the guest runs with interrupts off). Enough for the test guest's disk writer.
 */
#pragma once

#include "tests/guest/guest_types.h"

#define IDE_SECTOR_BYTES 512u
#define IDE_MAX_SECTORS 256u /* per READ/WRITE SECTORS command (count register 0 means 256) */

enum ide_failure {
  IDE_OK = 0,
  IDE_NO_CONTROLLER, /* status reads 0xFF: nothing decodes the ports */
  IDE_NO_DRIVE,      /* status reads 0 after IDENTIFY: no drive 0 */
  IDE_NOT_ATA,       /* an ATAPI (CD-ROM) or SATA signature */
  IDE_NO_LBA,        /* the drive does not do LBA addressing */
  IDE_TIMEOUT,       /* BSY did not clear in time */
  IDE_DEVICE_ERROR,  /* ERR or DF in the status after a command */
  IDE_NO_DATA,       /* the drive did not ask for data (DRQ clear) when it should have */
  IDE_BAD_REQUEST    /* a range beyond LBA28 or a count of 0 or > 256 */
};

/* Every call returns IDE_OK or fills *fault.
 * What went wrong and where: the command, the LBA it was at, the status and error registers. */
struct ide_fault {
  enum ide_failure failure;
  u8 command;
  u32 lba;
  u8 status;
  u8 error;
};

const char* ide_failure_name(enum ide_failure failure); /* one word, e.g. "timeout" */

/* Disables the channel's interrupt and remembers how long a command may keep the drive busy. */
void ide_init(u64 timeout_ticks);
/* IDENTIFY DEVICE: the drive's LBA28 capacity in sectors. */
enum ide_failure ide_identify(u32* sectors, struct ide_fault* fault);
/* READ SECTORS / WRITE SECTORS of `count` (1..256) sectors at `lba`, to/from `buffer`. */
enum ide_failure ide_read(u32 lba, u32 count, void* buffer, struct ide_fault* fault);
enum ide_failure ide_write(u32 lba, u32 count, const void* buffer, struct ide_fault* fault);
/* CACHE FLUSH: returns once what was written is on the medium (for QEMU: in the image file). */
enum ide_failure ide_flush(struct ide_fault* fault);
/* Software reset of the channel, after a timeout. */
void ide_reset(void);
