/* divdi3.c: 64-bit division helpers. RV32M divides only 32-bit values, so
 * the compiler calls these (the names are the ones clang emits) for
 * `long long` division. Division by zero follows the RISC-V DIVU/REMU rule:
 * quotient all ones, remainder the dividend. */

typedef unsigned long long u64;
typedef long long s64;

/* Restoring shift-and-subtract division. */
static u64 udivmod64(u64 n, u64 d, u64 *rem) {
  if (d == 0) {
    *rem = n;
    return ~(u64)0;
  }
  if ((n >> 32) == 0 && (d >> 32) == 0) {
    *rem = (unsigned)n % (unsigned)d;
    return (unsigned)n / (unsigned)d;
  }
  u64 q = 0, bit = 1;
  while (d <= n && (d >> 63) == 0) d <<= 1, bit <<= 1;
  for (; bit != 0; d >>= 1, bit >>= 1) {
    if (n >= d) n -= d, q |= bit;
  }
  *rem = n;
  return q;
}

u64 __udivdi3(u64 n, u64 d) {
  u64 r;
  return udivmod64(n, d, &r);
}

u64 __umoddi3(u64 n, u64 d) {
  u64 r;
  udivmod64(n, d, &r);
  return r;
}

s64 __divdi3(s64 n, s64 d) {
  u64 r;
  u64 un = n < 0 ? 0 - (u64)n : (u64)n, ud = d < 0 ? 0 - (u64)d : (u64)d;
  u64 q = udivmod64(un, ud, &r);
  return (n < 0) != (d < 0) ? (s64)(0 - q) : (s64)q;
}

s64 __moddi3(s64 n, s64 d) {
  u64 r;
  u64 un = n < 0 ? 0 - (u64)n : (u64)n, ud = d < 0 ? 0 - (u64)d : (u64)d;
  udivmod64(un, ud, &r);
  return n < 0 ? (s64)(0 - r) : (s64)r;
}
