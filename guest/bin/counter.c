/* counter PATH N: add 1 to the little-endian 32-bit word at offset 0 of
 * PATH, N times, each time under an xc_mutex whose word sits at offset 4
 * of the same MAP_SHARED page. Many processes may run it at once on one
 * file; the final word is then the sum of their N. */
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

#define PAGE 4096

static int fail(const char *what, const char *path) {
  fprintf(stderr, "counter: %s %s: %s\n", what, path, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  char *end = 0;
  long n = argc == 3 ? strtol(argv[2], &end, 10) : -1;
  if (argc != 3 || *end || n < 0) {
    fprintf(stderr, "usage: counter PATH N\n");
    return 2;
  }
  const char *path = argv[1];
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) return fail("open", path);
  struct stat st;
  if (fstat(fd, &st) < 0) return fail("fstat", path);
  /* Several counters may race here; growing to the same size is harmless
   * because ftruncate to the current size changes nothing. */
  if (st.st_size < PAGE && ftruncate(fd, PAGE) < 0) return fail("ftruncate", path);

  uint32_t *page = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED) return fail("mmap", path);
  volatile uint32_t *count = page;
  xc_mutex *lock = (xc_mutex *)(page + 1);

  for (long i = 0; i < n; i++) {
    xc_mutex_lock(lock);
    *count = *count + 1;
    xc_mutex_unlock(lock);
  }

  if (msync(page, PAGE, MS_SYNC) < 0) return fail("msync", path);
  if (munmap(page, PAGE) < 0) return fail("munmap", path);
  if (close(fd) < 0) return fail("close", path);
  return 0;
}
