#include "tests/guest/disk_commands.h"

#include "tests/guest/console.h"
#include "tests/guest/disk_writer.h"

static const char* state_name(enum disk_state state) {
  return state == DISK_ON ? "on" : state == DISK_FAILED ? "failed" : "off";
}

void disk_report_status(void) {
  const struct disk_status* s = disk_writer_status();
  put_str("DISK state=");
  put_str(state_name(s->state));
  if (s->state != DISK_OFF) {
    put_field("id", s->area.boot_id);
    put_field("written", s->written);
    put_field("flushed", s->flushed);
    put_str(" rate=");
    put_sdec(s->rate);
    put_field("start", s->area.start_lba);
    put_field("sectors", s->area.sectors);
    put_field("batch", s->batch);
    put_field("capacity", s->capacity);
    put_field("commands", s->write_commands);
    put_field("flushes", s->flushes);
    put_field("errors", s->errors);
    put_str(" last_error=");
    if (s->last_error.failure == IDE_OK) {
      put_str("none");
    } else {
      put_str(s->last_error_step);
      put_char('-');
      put_str(ide_failure_name(s->last_error.failure));
    }
    put_field("error_lba", s->last_error.lba);
    put_hex_field("error_status", s->last_error.status);
    put_hex_field("error_reg", s->last_error.error);
  }
  put_char('\n');
}

static int refuse_unless_on(void) {
  const struct disk_status* s = disk_writer_status();
  if (s->state == DISK_ON) return 0;
  put_str(s->state == DISK_OFF ? "ERR disk is off: boot with disk=1\n"
                               : "ERR disk failed at boot: see the DISK line\n");
  return 1;
}

void disk_command_rate(s64 rate, u64 now) {
  const struct disk_status* s = disk_writer_status();
  if (refuse_unless_on()) return;
  disk_writer_set_rate(rate, now);
  put_str("DRATE rate=");
  put_sdec(s->rate);
  put_field("written", s->written);
  put_field("flushed", s->flushed);
  put_char('\n');
}

void disk_command_verify(u64 tsc_hz) {
  const struct disk_status* s = disk_writer_status();
  struct disk_verification v;
  u64 start = rdtsc();
  if (refuse_unless_on()) return;
  disk_writer_verify(&v);
  if (v.read_failed) {
    put_str("DVERIFY FAIL read_error=");
    put_str(ide_failure_name(s->last_error.failure));
    put_field("lba", s->last_error.lba);
    put_hex_field("status", s->last_error.status);
    put_hex_field("error_reg", s->last_error.error);
  } else if (v.bad) {
    put_str("DVERIFY FAIL");
    put_field("lba", v.first_bad_lba);
    put_field("word", v.first_bad_word);
    put_hex_field("expected", v.expected);
    put_hex_field("found", v.found);
    put_field("seq_expected", v.expected_seq);
    put_field("seq_found", v.found_seq);
    put_field("bad", v.bad);
  } else {
    put_str("DVERIFY OK");
  }
  put_field("sectors", v.sectors_checked);
  put_field("written_sectors", v.sectors_expected);
  put_field("written", s->written);
  put_field("ms", (rdtsc() - start) / (tsc_hz / 1000));
  put_char('\n');
}
