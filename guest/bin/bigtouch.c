/* bigtouch [COUNTFILE NPROCS [hold|idle]]: touch every page of libbig.so's
 * 16 MiB blob once (one load per page, checked) and print how many pages
 * it touched and how long that took (faults included). With a count file,
 * wait afterwards in a futex barrier (a MAP_SHARED page of COUNTFILE) until
 * NPROCS processes have touched, so that all of them map the library at
 * the same moment; with "hold", until the count passes NPROCS, which the
 * host does after it has counted the page tables they need together.
 * "idle" is "hold" without the touch: the baseline that the bench
 * subtracts, so that what it reports is what touching the blob cost. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xc/sync.h>

unsigned big_pages(void);
unsigned big_touch(void);

#define PAGE 4096

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
  if (argc != 1 && argc != 3 && argc != 4) {
    fprintf(stderr, "usage: bigtouch [COUNTFILE NPROCS [hold|idle]]\n");
    return 2;
  }
  int idle = argc == 4 && !strcmp(argv[3], "idle");
  if (argc == 4 && !idle && strcmp(argv[3], "hold") != 0) return 2;
  unsigned pages = big_pages(); /* idle or not, the library's text is faulted in */
  long long t0 = now_us();
  unsigned bad = idle ? 0 : big_touch();
  long long us = now_us() - t0;
  if (bad != 0) {
    fprintf(stderr, "bigtouch: %u of %u pages hold the wrong word\n", bad, pages);
    return 1;
  }
  if (argc >= 3) {
    int n = atoi(argv[2]);
    int until = argc == 4 ? n + 1 : n; /* hold: the host moves the count past n */
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
    if (now >= until) xc_futex_wake(count, n);
    while ((now = *count) < until) xc_futex_wait(count, now);
  }
  printf("bigtouch: %u pages in %lld us\n", idle ? 0 : pages, us);
  return 0;
}
