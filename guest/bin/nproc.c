/* nproc: user ids and RLIMIT_NPROC, as Linux's setuid family and
 * copy_process decide. One fixed line per check:
 *
 * - root (real uid 0) is exempt from RLIMIT_NPROC;
 * - setuid(1000) as root changes all three ids; back to 0 is EPERM, and
 *   so is raising a hard limit;
 * - with RLIMIT_NPROC 2, uid 1000 (itself one task) forks once, then
 *   gets EAGAIN; at a limit of 1 pthread_create gets EAGAIN too;
 * - real uid 1000 with effective uid 0 is exempt (the capabilities);
 *   dropping the effective uid to 1000 makes the limit apply, and the
 *   saved uid 0 lets it back;
 * - setreuid(1000, 1000) sets the saved uid too.
 *
 * xip only: under qemu-riscv32 the limit counts the host's processes of
 * the uid, and setuid needs the host's root. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYS_setreuid 145
#define SYS_setuid 146
#define SYS_setresuid 147
#define SYS_getresuid 148
#define SYS_getuid 174
#define SYS_geteuid 175
#define SYS_prlimit64 261
#define RLIMIT_NPROC 6

/* A raw system call: the result, or -errno. */
static long sc(long n, long a, long b, long c, long d) {
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  register long a3 __asm__("a3") = d;
  register long a7 __asm__("a7") = n;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a7) : "memory");
  return a0;
}

struct rlimit64 {
  unsigned long long cur, max;
};

static long set_nproc(unsigned long long cur, unsigned long long max) {
  struct rlimit64 r = {cur, max};
  return sc(SYS_prlimit64, 0, RLIMIT_NPROC, (long)&r, 0);
}

static const char *err(long r) {
  return r == -EPERM ? "EPERM" : r == -EAGAIN ? "EAGAIN" : r == -EINVAL ? "EINVAL" : r == 0 ? "ok" : "other";
}

/* Fork up to `max` children that wait for the pipe's EOF, then let them go
 * and reap them; returns how many forks succeeded, *e the failure's errno. */
static int fork_many(int max, int *e) {
  int p[2];
  pipe(p);
  pid_t kids[16];
  int made = 0;
  *e = 0;
  for (int i = 0; i < max; i++) {
    pid_t c = fork();
    if (c == 0) {
      char b;
      close(p[1]);
      read(p[0], &b, 1);
      _exit(0);
    }
    if (c < 0) {
      *e = errno;
      break;
    }
    kids[made++] = c;
  }
  close(p[0]);
  close(p[1]);
  for (int i = 0; i < made; i++) waitpid(kids[i], 0, 0);
  return made;
}

static void forks(const char *who, int max) {
  int e;
  int n = fork_many(max, &e);
  printf("%s: %d of %d forks%s\n", who, n, max, e == EAGAIN ? ", then EAGAIN" : e ? ", then another error" : "");
}

static void ids(const char *who) {
  unsigned r, e, s;
  sc(SYS_getresuid, (long)&r, (long)&e, (long)&s, 0);
  printf("%s: uid %ld, euid %ld, resuid %u %u %u\n", who, sc(SYS_getuid, 0, 0, 0, 0),
         sc(SYS_geteuid, 0, 0, 0, 0), r, e, s);
}

static void *idle(void *p) { return p; }

static void as_user(void) {
  printf("setuid(1000) as root: %s\n", err(sc(SYS_setuid, 1000, 0, 0, 0)));
  ids("after setuid(1000)");
  printf("setuid(0) as uid 1000: %s\n", err(sc(SYS_setuid, 0, 0, 0, 0)));
  printf("raising the hard limit as uid 1000: %s\n", err(set_nproc(2, 100)));
  forks("uid 1000, RLIMIT_NPROC 2", 3);
  printf("lowering the limit to 1: %s\n", err(set_nproc(1, 2)));
  pthread_t t;
  int r = pthread_create(&t, 0, idle, 0);
  printf("pthread_create at the limit: %s\n", r == EAGAIN ? "EAGAIN" : r == 0 ? "ok" : "other");
}

static void capable_user(void) {
  printf("setresuid(1000, 0, 0): %s\n", err(sc(SYS_setresuid, 1000, 0, 0, 0)));
  forks("real uid 1000, euid 0, RLIMIT_NPROC 2", 3);
  printf("setresuid(-1, 1000, -1): %s\n", err(sc(SYS_setresuid, -1, 1000, -1, 0)));
  ids("after dropping the euid");
  forks("real and effective uid 1000, RLIMIT_NPROC 2", 3);
  printf("setresuid(-1, 0, -1) through the saved uid: %s\n", err(sc(SYS_setresuid, -1, 0, -1, 0)));
}

static void reuid(void) {
  printf("setreuid(1000, 1000): %s\n", err(sc(SYS_setreuid, 1000, 1000, 0, 0)));
  ids("after setreuid");
  printf("setreuid(-1, 0) as uid 1000: %s\n", err(sc(SYS_setreuid, -1, 0, 0, 0)));
}

static void in_child(void (*fn)(void)) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  int st = -1;
  waitpid(c, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("child failed: status %d\n", st);
}

int main(void) {
  ids("root");
  printf("RLIMIT_NPROC 2: %s\n", err(set_nproc(2, 2)));
  forks("root, RLIMIT_NPROC 2", 3);
  in_child(as_user);
  in_child(capable_user);
  in_child(reuid);
  return 0;
}
