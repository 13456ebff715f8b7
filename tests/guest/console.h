/* The guest's serial console on COM1, polled (the guest runs with interrupts off). */
#pragma once

#include "tests/guest/guest_types.h"

void serial_init(void);
void put_char(char c);
int read_char(void); /* -1 when no byte is waiting */
void put_str(const char* s);
void put_dec(u64 v);
void put_sdec(s64 v);
void put_hex(u32 v);                     /* "0x" and 8 hex digits */
void put_field(const char* name, u64 v); /* " name=v" */
void put_hex_field(const char* name, u32 v);
