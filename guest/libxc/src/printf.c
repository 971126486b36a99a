/* printf.c: the printf family.
 *
 * One formatter, xc_format, writes to a `sink` that is either a FILE or a
 * bounded string. Supported: flags - 0 + space #, width and precision
 * (numbers or *), length hh h l ll z j t, and conversions d i u o x X p s c %.
 * %p prints 0x followed by lowercase hex (0x0 for a null pointer). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct sink {
  FILE *f;    /* stream output, or */
  char *s;    /* string output of at most cap-1 bytes plus NUL */
  size_t cap;
  size_t n;   /* bytes produced so far, including any that did not fit */
};

static void put_bytes(struct sink *o, const char *p, size_t len) {
  if (o->f) {
    fwrite(p, 1, len, o->f);
  } else if (o->n + 1 < o->cap) {
    size_t room = o->cap - 1 - o->n;
    memcpy(o->s + o->n, p, len < room ? len : room);
  }
  o->n += len;
}

static void put_repeat(struct sink *o, char c, int count) {
  char chunk[16];
  memset(chunk, c, sizeof chunk);
  while (count > 0) {
    int k = count < 16 ? count : 16;
    put_bytes(o, chunk, (size_t)k);
    count -= k;
  }
}

struct spec {
  int left, zero, plus, space, alt;
  int width;     /* 0 if none */
  int precision; /* -1 if none */
};

/* Digits of v in base (8, 10 or 16), most significant first, into the end
 * of tmp. 32-bit values take the cheap path: 64-bit division is a library
 * routine on RV32. Returns the start of the digits. */
static char *to_digits(unsigned long long v, unsigned base, int upper, char *end) {
  const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char *p = end;
  while (v > 0xffffffffu) {
    *--p = set[v % base];
    v /= base;
  }
  for (uint32_t w = (uint32_t)v; w != 0; w /= base) *--p = set[w % base];
  return p;
}

static void put_number(struct sink *o, const struct spec *sp, unsigned long long v, int neg,
                       unsigned base, int upper, int force_hex_prefix) {
  char tmp[24];
  char *end = tmp + sizeof tmp;
  char *dig = to_digits(v, base, upper, end);
  int ndig = (int)(end - dig);
  if (v == 0 && sp->precision != 0) *--dig = '0', ndig = 1;

  char prefix[3];
  int plen = 0;
  if (neg) prefix[plen++] = '-';
  else if (sp->plus) prefix[plen++] = '+';
  else if (sp->space) prefix[plen++] = ' ';
  if (base == 16 && (force_hex_prefix || (sp->alt && v != 0))) {
    prefix[plen++] = '0';
    prefix[plen++] = upper ? 'X' : 'x';
  }
  int zeros = sp->precision > ndig ? sp->precision - ndig : 0;
  if (base == 8 && sp->alt && zeros == 0 && (ndig == 0 || dig[0] != '0')) zeros = 1;

  int len = plen + zeros + ndig;
  int pad = sp->width > len ? sp->width - len : 0;
  if (pad && !sp->left && sp->zero && sp->precision < 0) zeros += pad, pad = 0;
  if (!sp->left) put_repeat(o, ' ', pad);
  put_bytes(o, prefix, (size_t)plen);
  put_repeat(o, '0', zeros);
  put_bytes(o, dig, (size_t)ndig);
  if (sp->left) put_repeat(o, ' ', pad);
}

static void put_text(struct sink *o, const struct spec *sp, const char *s, size_t len) {
  int pad = sp->width > (int)len ? sp->width - (int)len : 0;
  if (!sp->left) put_repeat(o, ' ', pad);
  put_bytes(o, s, len);
  if (sp->left) put_repeat(o, ' ', pad);
}

enum length { L_HH, L_H, L_NONE, L_L, L_LL };

static int parse_count(const char **fmt, va_list *ap) {
  if (**fmt == '*') {
    (*fmt)++;
    return va_arg(*ap, int);
  }
  int v = 0;
  while (**fmt >= '0' && **fmt <= '9') v = v * 10 + (*(*fmt)++ - '0');
  return v;
}

static int xc_format(struct sink *o, const char *fmt, va_list ap0) {
  va_list ap;
  va_copy(ap, ap0);
  while (*fmt) {
    const char *lit = fmt;
    while (*fmt && *fmt != '%') fmt++;
    put_bytes(o, lit, (size_t)(fmt - lit));
    if (!*fmt) break;
    const char *start = fmt++;

    struct spec sp = {0, 0, 0, 0, 0, 0, -1};
    for (;; fmt++) {
      if (*fmt == '-') sp.left = 1;
      else if (*fmt == '0') sp.zero = 1;
      else if (*fmt == '+') sp.plus = 1;
      else if (*fmt == ' ') sp.space = 1;
      else if (*fmt == '#') sp.alt = 1;
      else break;
    }
    sp.width = parse_count(&fmt, &ap);
    if (sp.width < 0) sp.left = 1, sp.width = -sp.width;
    if (*fmt == '.') {
      fmt++;
      sp.precision = parse_count(&fmt, &ap);
      if (sp.precision < 0) sp.precision = -1;
    }
    enum length len = L_NONE;
    if (fmt[0] == 'h' && fmt[1] == 'h') len = L_HH, fmt += 2;
    else if (fmt[0] == 'h') len = L_H, fmt++;
    else if (fmt[0] == 'l' && fmt[1] == 'l') len = L_LL, fmt += 2;
    else if (fmt[0] == 'l' || fmt[0] == 'z' || fmt[0] == 't') len = L_L, fmt++;
    else if (fmt[0] == 'j') len = L_LL, fmt++;

    char conv = *fmt ? *fmt++ : 0;
    switch (conv) {
      case 'd':
      case 'i': {
        long long v = len == L_LL ? va_arg(ap, long long)
                      : len == L_L ? va_arg(ap, long)
                                   : va_arg(ap, int);
        if (len == L_H) v = (short)v;
        if (len == L_HH) v = (signed char)v;
        unsigned long long mag = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
        put_number(o, &sp, mag, v < 0, 10, 0, 0);
        break;
      }
      case 'u':
      case 'o':
      case 'x':
      case 'X': {
        unsigned long long v = len == L_LL ? va_arg(ap, unsigned long long)
                               : len == L_L ? va_arg(ap, unsigned long)
                                            : va_arg(ap, unsigned);
        if (len == L_H) v = (unsigned short)v;
        if (len == L_HH) v = (unsigned char)v;
        unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
        put_number(o, &sp, v, 0, base, conv == 'X', 0);
        break;
      }
      case 'p':
        put_number(o, &sp, (uintptr_t)va_arg(ap, void *), 0, 16, 0, 1);
        break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        if (!s) s = "(null)";
        size_t n = sp.precision >= 0 ? strnlen(s, (size_t)sp.precision) : strlen(s);
        put_text(o, &sp, s, n);
        break;
      }
      case 'c': {
        char c = (char)va_arg(ap, int);
        put_text(o, &sp, &c, 1);
        break;
      }
      case '%':
        put_bytes(o, "%", 1);
        break;
      default: /* unknown: print the directive as written */
        put_bytes(o, start, (size_t)(fmt - start));
        break;
    }
  }
  va_end(ap);
  if (!o->f && o->cap > 0) o->s[o->n < o->cap ? o->n : o->cap - 1] = 0;
  return (int)o->n;
}

int vfprintf(FILE *f, const char *fmt, va_list ap) {
  struct sink o = {f, 0, 0, 0};
  return xc_format(&o, fmt, ap);
}

int vprintf(const char *fmt, va_list ap) {
  return vfprintf(stdout, fmt, ap);
}

int vsnprintf(char *s, size_t n, const char *fmt, va_list ap) {
  struct sink o = {0, s, n, 0};
  return xc_format(&o, fmt, ap);
}

int printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vfprintf(stdout, fmt, ap);
  va_end(ap);
  return r;
}

int fprintf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}

int snprintf(char *s, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(s, n, fmt, ap);
  va_end(ap);
  return r;
}

int sprintf(char *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(s, SIZE_MAX, fmt, ap);
  va_end(ap);
  return r;
}

/* dprintf formats into a stack buffer first so that one write() carries
 * the whole line, which keeps concurrent writers' lines whole. */
int dprintf(int fd, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  size_t n = r < (int)sizeof buf ? (size_t)r : sizeof buf - 1;
  return write(fd, buf, n) < 0 ? -1 : r;
}
