/* The disk writer's serial reports (see test_guest.c for the whole protocol):
 *   "d"    -> DISK state=on|off|failed id= written= flushed= rate= start= sectors= batch=
 *             capacity= commands= flushes= errors= last_error=<step>-<failure>|none
 *             error_lba= error_status= error_reg=
 *   "dr N" -> DRATE rate=N written= flushed=      (sectors per second; 0 stops, -1 flat out)
 *   "dv"   -> DVERIFY OK sectors= written_sectors= written= ms=
 *             or DVERIFY FAIL lba= word= expected= found= seq_expected= seq_found= bad= ...
 * The disk line is also printed at boot when the disk is on (boot option disk=1). */
#pragma once

#include "tests/guest/guest_types.h"

void disk_report_status(void);
void disk_command_rate(s64 rate, u64 now);
void disk_command_verify(u64 tsc_hz);
