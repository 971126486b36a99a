/* start.c: process start-up and exit.
 *
 * crt0's _start passes the initial stack pointer, which points at the
 * Linux-style block the kernel built:
 *
 *   sp -> argc | argv[0] .. argv[argc-1] | NULL | envp[0] .. | NULL |
 *         auxv (type, value) pairs ending with AT_NULL
 *
 * For a dynamic program the runtime has already run every DT_INIT_ARRAY;
 * a static program's crt0 passes its own .init_array bounds instead. */
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "internal.h"

typedef void (*xc_fn)(void);

static char **xc_environ;
static unsigned long *xc_auxv;

#define ATEXIT_MAX 32
static xc_fn atexit_fns[ATEXIT_MAX];
static int atexit_count;

int atexit(void (*fn)(void)) {
  if (atexit_count == ATEXIT_MAX) return -1;
  atexit_fns[atexit_count++] = fn;
  return 0;
}

void exit(int status) {
  while (atexit_count > 0) atexit_fns[--atexit_count]();
  __xc_stdio_flush_all();
  __xc_exit_now(status);
}

void __xc_die(const char *msg) {
  xc_syscall3(SYS_write, 2, msg, strlen(msg));
  __xc_exit_now(134); /* there is no kill(); report as a SIGABRT death would */
}

void abort(void) {
  __xc_stdio_flush_all();
  __xc_die("abort\n");
}

char ***__environ_location(void) {
  return &xc_environ;
}

char *getenv(const char *name) {
  size_t n = strlen(name);
  for (char **e = xc_environ; e && *e; e++) {
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  }
  return 0;
}

unsigned long getauxval(unsigned long type) {
  for (unsigned long *a = xc_auxv; a && a[0] != AT_NULL; a += 2) {
    if (a[0] == type) return a[1];
  }
  return 0;
}

/* Called by crt0 with the entry stack pointer. rtld_fini is what the
 * kernel/loader left in a0 (0 on xip and under qemu); when set it is
 * registered with atexit as the RISC-V Linux ABI asks. init_begin/end are
 * the static program's .init_array, or null for a dynamic program. */
void __xc_start_main(int (*main)(int, char **, char **), unsigned long *sp, xc_fn rtld_fini,
                     xc_fn *init_begin, xc_fn *init_end, xc_fn fini_all) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  char **e = envp;
  while (*e) e++;
  xc_environ = envp;
  xc_auxv = (unsigned long *)(e + 1);

  if (rtld_fini) atexit(rtld_fini);
  if (fini_all) atexit(fini_all);
  for (xc_fn *f = init_begin; f && f < init_end; f++) (*f)();
  exit(main(argc, argv, envp));
}
