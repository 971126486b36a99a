/* exitcode: main's return value becomes the exit status after the atexit
 * handlers run (last registered first) and stdout is flushed, including
 * text without a final newline. */
#include <stdio.h>
#include <stdlib.h>

static void registered_first(void) {
  printf("atexit: registered first, runs last (no newline)");
}

static void registered_second(void) {
  printf("atexit: registered second, runs first\n");
}

int main(void) {
  atexit(registered_first);
  atexit(registered_second);
  printf("main: returning 42\n");
  return 42;
}
