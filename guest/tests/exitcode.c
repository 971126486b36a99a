/* exitcode: main's return value becomes the exit status after the atexit
 * handlers run (last registered first), then the .fini_array destructors
 * (crt0 registered their walk before main ran), then the stdout flush,
 * which must include text without a final newline. */
#include <stdio.h>
#include <stdlib.h>

static void registered_first(void) {
  printf("atexit: registered first, runs second\n");
}

static void registered_second(void) {
  printf("atexit: registered second, runs first\n");
}

__attribute__((destructor)) static void destructor(void) {
  printf("destructor: runs after the atexit handlers (no newline)");
}

int main(void) {
  atexit(registered_first);
  atexit(registered_second);
  printf("main: returning 42\n");
  return 42;
}
