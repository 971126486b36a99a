/* segv [null|text|unmapped]: store to an address the process may not
 * write, which must kill it with SIGSEGV (exit status 139 from a shell).
 *   null      address 0 (the default)
 *   text      the program's own code: on xip a read-only, execute-in-place
 *             page that must never be changed
 *   unmapped  a page that was mapped and then unmapped */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "null";
  volatile uint32_t *target;
  if (strcmp(mode, "null") == 0) {
    target = 0;
  } else if (strcmp(mode, "text") == 0) {
    target = (volatile uint32_t *)(uintptr_t)main;
  } else if (strcmp(mode, "unmapped") == 0) {
    void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || munmap(p, 4096) < 0) {
      fprintf(stderr, "segv: cannot prepare an unmapped page\n");
      return 2;
    }
    target = p;
  } else {
    fprintf(stderr, "usage: segv [null|text|unmapped]\n");
    return 2;
  }
  printf("segv: storing to the %s address\n", mode);
  fflush(stdout); /* the store below ends the process before exit() runs */
  __asm__ volatile("" : "+r"(target)); /* keep the compiler from reasoning about it */
  *target = 0x5e9f;
  printf("segv: the store did not fault\n");
  return 1;
}
