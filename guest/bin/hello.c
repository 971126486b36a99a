/* hello: the smallest dynamic program; prints a greeting and its argv. */
#include <stdio.h>

int main(int argc, char **argv) {
  puts("hello from xip");
  for (int i = 0; i < argc; i++) printf("argv[%d] = %s\n", i, argv[i]);
  return 0;
}
