/* bigtouch [COUNTFILE NPROCS]: touch every page of libbig.so's 16 MiB blob
 * once (one load per page, checked), and print how many pages it touched.
 * With a count file, wait afterwards until NPROCS processes have touched
 * (a futex barrier in a MAP_SHARED page of COUNTFILE), so that all of them
 * map the library at the same moment: the megapage bench counts the page
 * tables they need together. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xc/sync.h>

unsigned big_pages(void);
unsigned big_touch(void);

#define PAGE 4096

int main(int argc, char **argv) {
  if (argc != 1 && argc != 3) {
    fprintf(stderr, "usage: bigtouch [COUNTFILE NPROCS]\n");
    return 2;
  }
  unsigned bad = big_touch();
  if (bad != 0) {
    fprintf(stderr, "bigtouch: %u of %u pages hold the wrong word\n", bad, big_pages());
    return 1;
  }
  if (argc == 3) {
    int n = atoi(argv[2]);
    int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ftruncate(fd, PAGE) < 0) {
      fprintf(stderr, "bigtouch: %s: %s\n", argv[1], strerror(errno));
      return 1;
    }
    volatile int *count = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (count == MAP_FAILED) {
      fprintf(stderr, "bigtouch: mmap: %s\n", strerror(errno));
      return 1;
    }
    int now = __atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
    if (now >= n) xc_futex_wake(count, n);
    while ((now = *count) < n) xc_futex_wait(count, now);
  }
  printf("bigtouch: %u pages\n", big_pages());
  return 0;
}
