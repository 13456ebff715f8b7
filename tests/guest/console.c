#include "tests/guest/console.h"

#define COM1 0x3F8

void serial_init(void) {
  outb(COM1 + 1, 0x00); /* no interrupts: the guest polls */
  outb(COM1 + 3, 0x80); /* divisor latch */
  outb(COM1 + 0, 0x01); /* 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1 */
  outb(COM1 + 2, 0xC7); /* FIFOs on */
  outb(COM1 + 4, 0x03);
}
void put_char(char c) {
  while (!(inb(COM1 + 5) & 0x20)) {
  }
  outb(COM1, (u8)c);
}
int read_char(void) {
  return (inb(COM1 + 5) & 1) ? inb(COM1) : -1;
}
void put_str(const char* s) {
  while (*s) put_char(*s++);
}
void put_dec(u64 v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) put_char(digits[--n]);
}
void put_sdec(s64 v) {
  if (v < 0) {
    put_char('-');
    v = -v;
  }
  put_dec((u64)v);
}
void put_hex(u32 v) {
  int shift;
  put_str("0x");
  for (shift = 28; shift >= 0; shift -= 4) put_char("0123456789abcdef"[(v >> shift) & 15]);
}
void put_field(const char* name, u64 v) {
  put_char(' ');
  put_str(name);
  put_char('=');
  put_dec(v);
}
void put_hex_field(const char* name, u32 v) {
  put_char(' ');
  put_str(name);
  put_char('=');
  put_hex(v);
}
