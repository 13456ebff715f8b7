/* Fixed-width types and port I/O of the ferry test guest (a freestanding 32-bit kernel: no libc).
 */
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;

static inline void outb(u16 port, u8 value) {
  __asm__ volatile("outb %0, %1" ::"a"(value), "Nd"(port));
}
static inline u8 inb(u16 port) {
  u8 value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
/* `words` 16-bit transfers between `port` and memory (the IDE data register's PIO path). */
static inline void outsw(u16 port, const void* buffer, u32 words) {
  __asm__ volatile("rep outsw" : "+S"(buffer), "+c"(words) : "d"(port) : "memory");
}
static inline void insw(u16 port, void* buffer, u32 words) {
  __asm__ volatile("rep insw" : "+D"(buffer), "+c"(words) : "d"(port) : "memory");
}
static inline u64 rdtsc(void) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}
