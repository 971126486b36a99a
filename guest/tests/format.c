/* format: printf conversions, snprintf truncation, strto* parsing and
 * 64-bit division (a libc helper on RV32). Each printf case prints
 * "NN [text] length"; tests/guest/qemu_test.ts holds the expected text of
 * every case, in the same order. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_case;

#define T(...)                                        \
  do {                                                \
    char buf[128];                                    \
    int r = snprintf(buf, sizeof buf, __VA_ARGS__);   \
    printf("%02d [%s] %d\n", ++n_case, buf, r);       \
  } while (0)

static void formats(void) {
  volatile int wide_char = 300, wide_short = 70000; /* truncated by hh and h */
  T("%d", 0);
  T("%d", -42);
  T("%i", 2147483647);
  T("%d", INT_MIN);
  T("%u", 4294967295u);
  T("%x", 0xdeadbeefu);
  T("%X", 0xdeadbeefu);
  T("%#x", 255);
  T("%#X", 255);
  T("%#x", 0);
  T("%o", 8);
  T("%#o", 8);
  T("%5d", 42);
  T("%-5d|", 42);
  T("%05d", 42);
  T("%05d", -42);
  T("%+d", 42);
  T("% d", 42);
  T("%.3d", 7);
  T("%8.3d", -7);
  T("%08.3d", 7);
  T("%.0d", 0);
  T("%ld", -123456789L);
  T("%lu", 4000000000UL);
  T("%lld", LLONG_MIN);
  T("%llu", ULLONG_MAX);
  T("%llx", 0x123456789abcdefULL);
  /* The h and hh cases pass an int on purpose: printf must narrow it. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat"
  T("%hhd", wide_char);
  T("%hu", wide_short);
#pragma clang diagnostic pop
  T("%zu", (size_t)12345);
  T("%s", "xip");
  T("%6s", "xip");
  T("%-6s|", "xip");
  T("%.2s", "xip");
  T("%s", (char *)0);
  T("%c", 'A');
  T("%3c", 'B');
  T("%-3c|", 'C');
  T("%%");
  T("%p", (void *)0x1234);
  T("%p", (void *)0);
  T("%*d", 6, 42);
  T("%-*d|", 6, 42);
  T("%.*s", 3, "abcdef");
  T("%d %s %c %x", 1, "two", '3', 4);
  T("%10.4x", 0xab);
  T("%-+6d|", 5);
}

static void truncation(void) {
  char small[5];
  int r = snprintf(small, sizeof small, "%s", "abcdefgh");
  printf("snprintf into 5 bytes: [%s] %d\n", small, r);
  printf("snprintf into nothing: %d\n", snprintf(0, 0, "%d", 12345));
}

static void parse(const char *s, int base) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, base);
  printf("strtol(\"%s\", %d) = %ld rest [%s] errno %d\n", s, base, v, end, errno);
}

static void parsing(void) {
  parse("  -123abc", 10);
  parse("0x1F", 0);
  parse("0777", 0);
  parse("z", 36);
  parse("99999999999", 10);
  parse("-99999999999", 10);
  parse("junk", 10);
  printf("strtoul(\"ffffffff\", 16) = %lu\n", strtoul("ffffffff", 0, 16));
  printf("strtoll(\"-9223372036854775808\") = %lld\n", strtoll("-9223372036854775808", 0, 10));
  printf("atoi(\"42\") = %d\n", atoi("42"));
}

static void division(void) {
  volatile long long a = 1234567890123456789LL, b = 1000000007LL;
  volatile unsigned long long u = ULLONG_MAX, ten = 10;
  printf("div64: %lld %lld %lld %lld\n", a / b, a % b, -a / b, -a % b);
  printf("udiv64: %llu %llu\n", u / ten, u % ten);
}

int main(void) {
  formats();
  truncation();
  parsing();
  division();
  return 0;
}
