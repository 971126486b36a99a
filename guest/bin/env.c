/* env: print the environment the process was started with, one entry a
 * line, as the kernel passed it (the bytes, unchanged). */
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv, char **envp) {
  (void)argc;
  (void)argv;
  for (char **e = envp; *e; e++) {
    write(1, *e, strlen(*e));
    write(1, "\n", 1);
  }
  return 0;
}
