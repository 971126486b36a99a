/* cat [FILE...]: copy each FILE, or stdin when there is none (or for "-"),
 * to stdout, in reads of up to 4096 bytes, each written out at once.
 * A failure prints "cat: NAME: errno E" on stderr and exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int copy(int fd, const char *name) {
  static char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) {
      dprintf(2, "cat: %s: errno %d\n", name, errno);
      return 1;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(1, buf + done, (size_t)(n - done));
      if (w < 0) {
        dprintf(2, "cat: write: errno %d\n", errno);
        return 1;
      }
      done += w;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return copy(0, "stdin");
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-") == 0) {
      rc |= copy(0, "stdin");
      continue;
    }
    int fd = open(argv[i], O_RDONLY, 0);
    if (fd < 0) {
      dprintf(2, "cat: %s: errno %d\n", argv[i], errno);
      rc = 1;
      continue;
    }
    rc |= copy(fd, argv[i]);
    close(fd);
  }
  return rc;
}
