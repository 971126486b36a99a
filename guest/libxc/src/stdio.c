/* stdio.c: FILE streams over file descriptors.
 *
 * A stream's buffer holds either pending output (buf[0..wpos)) or read-ahead
 * input (buf[rpos..rend)), never both: switching direction flushes output or
 * gives unread input back with lseek. stderr has no buffer. stdout is fully
 * buffered; exit() flushes it, and so does fflush. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define F_INUSE 1
#define F_READ 2
#define F_WRITE 4
#define F_EOF 8
#define F_ERR 16
#define F_OWNBUF 32

struct xc_file {
  int fd;
  int flags;
  unsigned char *buf;
  size_t cap; /* 0: unbuffered */
  size_t wpos;
  size_t rpos, rend;
};

static unsigned char stdin_buf[BUFSIZ], stdout_buf[BUFSIZ];

static FILE files[FOPEN_MAX] = {
    {0, F_INUSE | F_READ, stdin_buf, BUFSIZ, 0, 0, 0},
    {1, F_INUSE | F_WRITE, stdout_buf, BUFSIZ, 0, 0, 0},
    {2, F_INUSE | F_WRITE, 0, 0, 0, 0, 0},
};

FILE *__xc_stdfile(int fd) {
  return fd >= 0 && fd <= 2 ? &files[fd] : 0;
}

static int write_all(FILE *f, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      f->flags |= F_ERR;
      return EOF;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Push pending output to the fd, or hand unread input back to the file. */
static int sync_stream(FILE *f) {
  if (f->wpos > 0) {
    size_t n = f->wpos;
    f->wpos = 0;
    return write_all(f, f->buf, n);
  }
  if (f->rend > f->rpos) {
    lseek(f->fd, -(off_t)(f->rend - f->rpos), SEEK_CUR); /* fails on pipes: fine */
  }
  f->rpos = f->rend = 0;
  return 0;
}

int fflush(FILE *f) {
  if (!f) {
    __xc_stdio_flush_all();
    return 0;
  }
  return sync_stream(f);
}

void __xc_stdio_flush_all(void) {
  for (int i = 0; i < FOPEN_MAX; i++) {
    if (files[i].flags & F_INUSE) sync_stream(&files[i]);
  }
}

static int mode_flags(const char *mode, int *sflags) {
  int plus = strchr(mode, '+') != 0;
  switch (mode[0]) {
    case 'r':
      *sflags = plus ? F_READ | F_WRITE : F_READ;
      return plus ? O_RDWR : O_RDONLY;
    case 'w':
      *sflags = plus ? F_READ | F_WRITE : F_WRITE;
      return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a':
      *sflags = plus ? F_READ | F_WRITE : F_WRITE;
      return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default:
      return -1;
  }
}

FILE *fdopen(int fd, const char *mode) {
  int sflags;
  if (mode_flags(mode, &sflags) < 0) {
    errno = EINVAL;
    return 0;
  }
  for (int i = 3; i < FOPEN_MAX; i++) {
    FILE *f = &files[i];
    if (f->flags & F_INUSE) continue;
    unsigned char *buf = malloc(BUFSIZ);
    if (!buf) return 0;
    *f = (FILE){fd, F_INUSE | F_OWNBUF | sflags, buf, BUFSIZ, 0, 0, 0};
    return f;
  }
  errno = EMFILE;
  return 0;
}

FILE *fopen(const char *path, const char *mode) {
  int sflags;
  int oflags = mode_flags(mode, &sflags);
  if (oflags < 0) {
    errno = EINVAL;
    return 0;
  }
  int fd = open(path, oflags, 0666);
  if (fd < 0) return 0;
  FILE *f = fdopen(fd, mode);
  if (!f) close(fd);
  return f;
}

int fclose(FILE *f) {
  int r = sync_stream(f);
  if (close(f->fd) < 0) r = EOF;
  if (f->flags & F_OWNBUF) free(f->buf);
  f->flags = 0;
  return r;
}

int fileno(FILE *f) {
  return f->fd;
}

int feof(FILE *f) {
  return (f->flags & F_EOF) != 0;
}

int ferror(FILE *f) {
  return (f->flags & F_ERR) != 0;
}

size_t fwrite(const void *buf, size_t size, size_t n, FILE *f) {
  size_t total = size * n;
  const unsigned char *p = buf;
  if (total == 0) return 0;
  if (f->rend > f->rpos) sync_stream(f);
  if (f->cap == 0 || total >= f->cap) {
    if (sync_stream(f) < 0 || write_all(f, p, total) < 0) return 0;
    return n;
  }
  if (f->wpos + total > f->cap && sync_stream(f) < 0) return 0;
  memcpy(f->buf + f->wpos, p, total);
  f->wpos += total;
  return n;
}

/* Refill the read buffer. Returns bytes available, 0 at end or on error. */
static size_t refill(FILE *f) {
  if (f->wpos > 0 && sync_stream(f) < 0) return 0;
  if (f->rpos < f->rend) return f->rend - f->rpos;
  ssize_t r;
  do r = read(f->fd, f->buf, f->cap);
  while (r < 0 && errno == EINTR);
  f->rpos = 0;
  f->rend = r > 0 ? (size_t)r : 0;
  if (r == 0) f->flags |= F_EOF;
  if (r < 0) f->flags |= F_ERR;
  return f->rend;
}

size_t fread(void *buf, size_t size, size_t n, FILE *f) {
  size_t want = size * n, got = 0;
  unsigned char *p = buf;
  if (want == 0) return 0;
  if (f->cap == 0) {
    ssize_t r = read(f->fd, p, want);
    if (r <= 0) f->flags |= r == 0 ? F_EOF : F_ERR;
    return r > 0 ? (size_t)r / size : 0;
  }
  while (got < want) {
    size_t avail = refill(f);
    if (avail == 0) break;
    size_t take = want - got < avail ? want - got : avail;
    memcpy(p + got, f->buf + f->rpos, take);
    f->rpos += take;
    got += take;
  }
  return got / size;
}

int fgetc(FILE *f) {
  unsigned char c;
  return fread(&c, 1, 1, f) == 1 ? c : EOF;
}

int getc(FILE *f) {
  return fgetc(f);
}

int getchar(void) {
  return fgetc(stdin);
}

char *fgets(char *s, int n, FILE *f) {
  int i = 0;
  while (i < n - 1) {
    int c = fgetc(f);
    if (c == EOF) break;
    s[i++] = (char)c;
    if (c == '\n') break;
  }
  if (i == 0 || n <= 0) return 0;
  s[i] = 0;
  return s;
}

int fputc(int c, FILE *f) {
  unsigned char b = (unsigned char)c;
  return fwrite(&b, 1, 1, f) == 1 ? b : EOF;
}

int putc(int c, FILE *f) {
  return fputc(c, f);
}

int putchar(int c) {
  return fputc(c, stdout);
}

int fputs(const char *s, FILE *f) {
  size_t n = strlen(s);
  return fwrite(s, 1, n, f) == n || n == 0 ? 0 : EOF;
}

int puts(const char *s) {
  if (fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF) return EOF;
  return 0;
}

void perror(const char *msg) {
  const char *e = strerror(errno);
  if (msg && *msg) fprintf(stderr, "%s: %s\n", msg, e);
  else fprintf(stderr, "%s\n", e);
}
