/* poke PATH [hold]: open PATH for writing (O_WRONLY | O_APPEND, nothing is
 * written) and print "poke: PATH: opened", or "poke: PATH: errno E" and
 * exit 1. With "hold" it keeps the file open after the line, sleeping until
 * it is killed. Used to check that a running program's text cannot be
 * opened for writing (ETXTBSY, errno 26) and that a file open for writing
 * cannot be executed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xc/sync.h>

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "hold") != 0)) {
    dprintf(2, "usage: poke PATH [hold]\n");
    return 2;
  }
  int fd = open(argv[1], O_WRONLY | O_APPEND, 0);
  if (fd < 0) {
    dprintf(1, "poke: %s: errno %d\n", argv[1], errno);
    return 1;
  }
  dprintf(1, "poke: %s: opened\n", argv[1]);
  static volatile int never = 0;
  if (argc == 3)
    for (;;) xc_futex_wait(&never, 0); /* until killed */
  close(fd);
  return 0;
}
