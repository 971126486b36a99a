/* stdlib.c: number parsing, qsort, abs. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

static int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

/* Shared by the strto* family: parses sign, base prefix and digits into
 * *mag, saturating at `limit` (ERANGE). Returns 1 if negative. */
static int parse_int(const char *s, char **end, int base, unsigned long long limit,
                     unsigned long long *mag) {
  const char *p = s;
  while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
      digit_value(p[2]) < 16) {
    p += 2;
    base = 16;
  } else if (base == 0) {
    base = p[0] == '0' ? 8 : 10;
  }
  unsigned long long v = 0;
  int any = 0, over = 0;
  for (int d; (d = digit_value(*p)) < base; p++) {
    any = 1;
    if (v > (limit - (unsigned)d) / (unsigned)base) over = 1;
    else v = v * (unsigned)base + (unsigned)d;
  }
  if (end) *end = (char *)(any ? p : s);
  if (over) {
    errno = ERANGE;
    v = limit;
  }
  *mag = v;
  return neg;
}

long long strtoll(const char *s, char **end, int base) {
  unsigned long long m;
  int neg = parse_int(s, end, base, (unsigned long long)LLONG_MAX + 1, &m);
  if (!neg && m > LLONG_MAX) {
    errno = ERANGE;
    return LLONG_MAX;
  }
  return neg ? (long long)(0 - m) : (long long)m;
}

unsigned long long strtoull(const char *s, char **end, int base) {
  unsigned long long m;
  int neg = parse_int(s, end, base, ULLONG_MAX, &m);
  return neg ? 0 - m : m;
}

long strtol(const char *s, char **end, int base) {
  unsigned long long m;
  int neg = parse_int(s, end, base, (unsigned long long)LONG_MAX + 1, &m);
  if (!neg && m > LONG_MAX) {
    errno = ERANGE;
    return LONG_MAX;
  }
  return neg ? (long)(0 - m) : (long)m;
}

unsigned long strtoul(const char *s, char **end, int base) {
  unsigned long long m;
  int neg = parse_int(s, end, base, ULONG_MAX, &m);
  return (unsigned long)(neg ? 0 - m : m);
}

int atoi(const char *s) {
  return (int)strtol(s, 0, 10);
}

long atol(const char *s) {
  return strtol(s, 0, 10);
}

int abs(int v) {
  return v < 0 ? -v : v;
}

long labs(long v) {
  return v < 0 ? -v : v;
}

long long llabs(long long v) {
  return v < 0 ? -v : v;
}

static void swap_bytes(unsigned char *a, unsigned char *b, size_t n) {
  while (n--) {
    unsigned char t = *a;
    *a++ = *b;
    *b++ = t;
  }
}

/* Move element `root` down the max-heap of n elements until both children
 * are no greater. */
static void sift_down(unsigned char *base, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *)) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0) child++;
    if (cmp(base + root * size, base + child * size) >= 0) return;
    swap_bytes(base + root * size, base + child * size, size);
    root = child;
  }
}

/* Heapsort: O(n log n) in every case, no recursion, no extra memory. */
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  unsigned char *b = base;
  if (n < 2) return;
  for (size_t i = n / 2; i-- > 0;) sift_down(b, i, n, size, cmp);
  for (size_t end = n - 1; end > 0; end--) {
    swap_bytes(b, b + end * size, size);
    sift_down(b, 0, end, size, cmp);
  }
}
