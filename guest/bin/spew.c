/* spew: console output of every shape, for the host-stream tests.
 *
 *   spew N [PATH]   if PATH is given, first write "saved\n" to PATH (made
 *                   with mode 0644, replacing it); then write N lines
 *                   "line I\n" (I = 0 .. N-1) to stdout, one write(2) each
 *   spew -c BYTES   write BYTES bytes cycling 'a'..'z', no newline, in
 *                   writes of 4096 bytes
 *   spew -b         write the 256 byte values 0..255 once, in one write
 *
 * A write that fails prints "spew: write: errno E" on stderr and exits 1
 * (with SIGPIPE's default action the process is gone before that for
 * EPIPE: status 141). Usage errors exit 2; exit 0 when all was written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, buf, n);
    if (w < 0) {
      dprintf(2, "spew: write: errno %d\n", errno);
      exit(1);
    }
    buf += w;
    n -= (size_t)w;
  }
}

static int lines(long n, const char *path) {
  if (path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "saved\n", 6) != 6 || close(fd) != 0) {
      dprintf(2, "spew: %s: errno %d\n", path, errno);
      return 1;
    }
  }
  char line[32];
  for (long i = 0; i < n; i++) {
    int len = snprintf(line, sizeof line, "line %ld\n", i);
    put(line, (size_t)len);
  }
  return 0;
}

static int bytes(long n) {
  static char buf[4096];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)('a' + i % 26);
  while (n > 0) {
    size_t k = n < (long)sizeof buf ? (size_t)n : sizeof buf;
    put(buf, k);
    n -= (long)k;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "-c") == 0) return bytes(atol(argv[2]));
  if (argc == 2 && strcmp(argv[1], "-b") == 0) {
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    put(all, sizeof all);
    return 0;
  }
  if (argc == 2 || argc == 3) return lines(atol(argv[1]), argc == 3 ? argv[2] : 0);
  dprintf(2, "usage: spew N [PATH] | spew -c BYTES | spew -b\n");
  return 2;
}
