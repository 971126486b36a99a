/* wc: count lines, words and bytes of each FILE, or of stdin, printed as
 * POSIX's wc does ("%d %d %d %s"), each number right-aligned in a column
 * of 7 as GNU and BusyBox wc print them. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

struct counts {
  long lines, words, bytes;
};

static int count(int fd, struct counts *c) {
  static char buf[8192];
  int in_word = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    c->bytes += n;
    for (ssize_t i = 0; i < n; i++) {
      char ch = buf[i];
      if (ch == '\n') c->lines++;
      int space = ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
      if (!space && !in_word) c->words++;
      in_word = !space;
    }
  }
  return n < 0 ? -1 : 0;
}

static void show(const struct counts *c, const char *name) {
  printf("%7ld %7ld %7ld", c->lines, c->words, c->bytes);
  if (name) printf(" %s", name);
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    struct counts c = {0, 0, 0};
    if (count(0, &c) < 0) {
      perror("wc: stdin");
      return 1;
    }
    show(&c, 0);
    return 0;
  }
  struct counts total = {0, 0, 0};
  int status = 0;
  for (int i = 1; i < argc; i++) {
    int fd = open(argv[i], O_RDONLY);
    struct counts c = {0, 0, 0};
    if (fd < 0 || count(fd, &c) < 0) {
      fprintf(stderr, "wc: %s: cannot read\n", argv[i]);
      status = 1;
      if (fd >= 0) close(fd);
      continue;
    }
    close(fd);
    show(&c, argv[i]);
    total.lines += c.lines, total.words += c.words, total.bytes += c.bytes;
  }
  if (argc > 2) show(&total, "total");
  return status;
}
