/* proctest: process-lifecycle checks, one per subcommand, each printing
 * fixed lines (so qemu-riscv32 and xip can be compared where Linux's
 * answer does not depend on the host).
 *
 *   proctest bomb      a bounded fork bomb: every process forks up to 8
 *                      times; a fork that fails must fail with EAGAIN;
 *                      the root reports whether any fork hit the limit
 *   proctest orphan    the child leaves a grandchild behind and exits; the
 *                      grandchild waits until it is adopted (getppid
 *                      changes) and prints its new parent (host-dependent)
 *   proctest wait      waitid WNOWAIT, waitpid by process group, bad
 *                      options, a pid that is no child
 *   proctest wclone    a clone child with no exit signal is only seen by
 *                      __WALL / __WCLONE waits (Linux; qemu forks instead)
 *   proctest sleep     fork a child that sleeps in a futex wait forever,
 *                      print its pid, and wait for it (for kill tests)
 *   proctest vfork     clone(CLONE_VM|CLONE_VFORK) on a stack of its own:
 *                      the parent resumes only after the child is done,
 *                      and sees its write (qemu turns vfork into fork)
 *   proctest sigchld   a SIGCHLD handler runs for an exit; WUNTRACED sees a
 *                      stop, WCONTINUED the continue; with SIGCHLD ignored,
 *                      children are reaped at once and wait says ECHILD
 *   proctest forkbus PATH
 *                      a forked child's store past the end of a shared
 *                      mapping of PATH raises SIGBUS; the handler it
 *                      inherited grows the file and returns; the store
 *                      is retried and the child exits 0
 *   proctest forktrunc PATH N
 *                      N forks of a process that maps PATH shared and
 *                      private while another process keeps truncating it
 *                      to 2 pages and extending it to 16 (a SIGBUS handler
 *                      retries an access past the end until the file
 *                      grows again); every child touches every page and
 *                      must exit 0
 *   proctest robust PATH
 *                      a child takes a lock word in a shared mapping of
 *                      PATH, registers it on its robust list and dies
 *                      (exits, then, in a second round, is killed): the
 *                      kernel marks the word FUTEX_OWNER_DIED and wakes
 *                      the parent waiting on it
 *   proctest cycles N [PATH]
 *                      N rounds of fork, then exit (or exec PATH and its
 *                      exit), then wait; every child must exit 0 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xc/sync.h>

#define __WALL 0x40000000
#define __WCLONE 0x80000000

static int bomb(pid_t root) {
  int saw = 0, kids = 0, bad = 0;
  for (int i = 0; i < 8; i++) {
    pid_t p = fork();
    if (p == 0) {
      kids = 0; /* the child goes on with the rest of the loop */
      continue;
    }
    if (p < 0) {
      if (errno == EAGAIN) saw = 1;
      else bad = 1;
      break;
    }
    kids++;
  }
  int st;
  while (kids > 0 && wait(&st) > 0) {
    kids--;
    if (!WIFEXITED(st)) bad = 1;
    else if (WEXITSTATUS(st) == 1) saw = 1;
    else if (WEXITSTATUS(st) != 0) bad = 1;
  }
  if (kids != 0) bad = 1;
  if (getpid() != root) exit(bad ? 2 : saw);
  printf("fork bomb: %s, EAGAIN %s\n", bad ? "errors" : "no errors", saw ? "seen" : "not seen");
  return bad;
}

static int orphan(void) {
  pid_t child = fork();
  if (child == 0) {
    pid_t me = getpid();
    if (fork() == 0) {
      while (getppid() == me) {
      }
      printf("grandchild: adopted by %d\n", getppid());
      exit(0);
    }
    exit(0);
  }
  int st;
  waitpid(child, &st, 0);
  printf("child exited %d, leaving its child behind\n", WEXITSTATUS(st));
  fflush(stdout);
  return 0;
}

/* sigaction(sig) with `fn` as the handler, no flags. */
static void handle(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigaction(sig, &sa, 0);
}

static void expect(const char *what, int ok) {
  printf("%s: %s\n", what, ok ? "ok" : "WRONG");
}

static int waits(void) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) exit(3);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r = waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  expect("waitid WNOWAIT reports the exit", r == 0 && si.si_pid == c && si.si_code == CLD_EXITED &&
                                                si.si_status == 3 && si.si_signo == 17);
  int st = 0;
  expect("the zombie is still there for waitpid", waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 3);
  expect("then it is gone (ECHILD)", waitpid(c, &st, 0) < 0 && errno == ECHILD);
  expect("bad options are EINVAL", waitpid(-1, &st, 0x100) < 0 && errno == EINVAL);
  expect("a pid that is not a child is ECHILD", waitpid(1, &st, WNOHANG) < 0 && errno == ECHILD);

  fflush(stdout);
  pid_t g = fork();
  if (g == 0) {
    setpgid(0, 0);
    exit(5);
  }
  setpgid(g, g); /* either of the two calls may win; both mean the same */
  expect("waitpid(-pgid) finds the child in its own group",
         waitpid(-g, &st, 0) == g && WEXITSTATUS(st) == 5);
  expect("no children left", wait(&st) < 0 && errno == ECHILD);
  return 0;
}

static int wclone(void) {
  fflush(stdout);
  /* clone(flags = 0): a child with no exit signal. */
  long r;
  {
    register long a0 __asm__("a0") = 0, a1 __asm__("a1") = 0, a2 __asm__("a2") = 0;
    register long a3 __asm__("a3") = 0, a4 __asm__("a4") = 0, a7 __asm__("a7") = 220;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a7) : "memory");
    r = a0;
  }
  if (r == 0) exit(9);
  siginfo_t si;
  expect("a plain wait does not see a clone child",
         waitid(P_ALL, 0, &si, WEXITED) < 0 && errno == ECHILD);
  memset(&si, 0, sizeof si);
  expect("__WCLONE does", waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | __WCLONE) == 0 &&
                              si.si_pid == r && si.si_status == 9);
  int st;
  expect("__WALL does too", waitpid(-1, &st, __WALL) == r && WEXITSTATUS(st) == 9);
  return 0;
}

static int sleeper(void) {
  pid_t c = fork();
  if (c == 0) {
    volatile int word = 0;
    for (;;) xc_futex_wait(&word, 0);
  }
  printf("sleeper %d\n", c);
  fflush(stdout);
  int st;
  if (waitpid(c, &st, 0) != c) return 1;
  if (WIFSIGNALED(st)) printf("child killed by signal %d\n", WTERMSIG(st));
  else printf("child exited %d\n", WEXITSTATUS(st));
  return 0;
}

static volatile int vfork_word;

static int vfork_child(void *arg) {
  /* Dawdle first: a parent that did not wait would see 0. */
  for (volatile int i = 0; i < 300000; i++) {
  }
  vfork_word = (int)(long)arg;
  return 7;
}

static int vforks(void) {
  char *stack = malloc(16384);
  fflush(stdout);
  int pid = __xc_clone(vfork_child, stack + 16384, CLONE_VM | CLONE_VFORK | 17, (void *)42, 0, 0,
                       0);
  expect("vfork: the parent resumes after the child wrote", pid > 0 && vfork_word == 42);
  int st;
  expect("vfork: the child exits 7", waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 7);
  free(stack);
  return 0;
}

static volatile int chld_count;

static void on_chld(int sig) {
  (void)sig;
  chld_count++;
}

static int sigchlds(void) {
  handle(SIGCHLD, on_chld);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) exit(4);
  int st = 0;
  pid_t r;
  while ((r = waitpid(c, &st, 0)) < 0 && errno == EINTR) {
  }
  expect("SIGCHLD handler ran for the exit", r == c && WEXITSTATUS(st) == 4 && chld_count == 1);

  /* The continued child must not exit before the parent has seen the
   * continue: once it is a zombie, wait reports the exit instead (Linux's
   * wait_consider_task looks at exit_state first). So it waits for a
   * SIGUSR1, blocked across the fork, that the parent sends only then. */
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, &old);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    raise(SIGSTOP);
    while (sigwaitinfo(&usr1, 0) < 0 && errno == EINTR) {
    }
    exit(6);
  }
  sigprocmask(SIG_SETMASK, &old, 0);
  while ((r = waitpid(c, &st, WUNTRACED)) < 0 && errno == EINTR) {
  }
  expect("WUNTRACED reports the stop", r == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
  kill(c, SIGCONT);
  while ((r = waitpid(c, &st, WCONTINUED)) < 0 && errno == EINTR) {
  }
  expect("WCONTINUED reports the continue", r == c && WIFCONTINUED(st));
  kill(c, SIGUSR1);
  while ((r = waitpid(c, &st, 0)) < 0 && errno == EINTR) {
  }
  expect("then the exit", r == c && WIFEXITED(st) && WEXITSTATUS(st) == 6);

  signal(SIGCHLD, SIG_IGN);
  fflush(stdout);
  c = fork();
  if (c == 0) exit(0);
  expect("with SIGCHLD ignored the child is reaped at once (ECHILD)",
         waitpid(-1, &st, 0) < 0 && errno == ECHILD);
  return 0;
}

#define FT_PAGES 16

static volatile int bus_count;

/* Return and retry the access: the truncator extends the file again. */
static void on_bus(int sig) {
  (void)sig;
  bus_count++;
}

static void touch_all(volatile char *sh, volatile char *pv, int v) {
  for (int p = 0; p < FT_PAGES; p++) {
    sh[p * 4096 + 1] = (char)(sh[p * 4096] + v);
    pv[p * 4096 + 2] = (char)v;
  }
}

static int bus_fd;

/* Grow the file back, so the access retries and succeeds. */
static void on_bus_grow(int sig) {
  (void)sig;
  bus_count++;
  ftruncate(bus_fd, FT_PAGES * 4096);
}

/* A store past the end of a shared file mapping in a forked child: SIGBUS,
 * whose handler (inherited from the parent) returns through the [vdso]
 * trampoline, and the store is retried. */
static int forkbus(const char *path) {
  bus_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (bus_fd < 0 || ftruncate(bus_fd, 2 * 4096) < 0) return 1;
  volatile char *sh = mmap(0, FT_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, bus_fd, 0);
  if (sh == MAP_FAILED) return 1;
  handle(SIGBUS, on_bus_grow);
  sh[0] = 1;
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    sh[5 * 4096] = 3;
    _exit(bus_count == 1 && sh[5 * 4096] == 3 ? 0 : 9);
  }
  int st = 0;
  waitpid(c, &st, 0);
  expect("a forked child's SIGBUS handler returns and the store is retried",
         WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return 0;
}

static int forktrunc(const char *path, int rounds) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  int stop[2];
  if (fd < 0 || pipe2(stop, O_NONBLOCK) < 0 || ftruncate(fd, FT_PAGES * 4096) < 0) return 1;
  int rw = PROT_READ | PROT_WRITE;
  volatile char *sh = mmap(0, FT_PAGES * 4096, rw, MAP_SHARED, fd, 0);
  volatile char *pv = mmap(0, FT_PAGES * 4096, rw, MAP_PRIVATE, fd, 0);
  if (sh == MAP_FAILED || pv == MAP_FAILED) return 1;
  handle(SIGBUS, on_bus);
  fflush(stdout);
  pid_t trunc = fork();
  if (trunc == 0) {
    close(stop[1]);
    char b;
    while (read(stop[0], &b, 1) < 0) { /* EAGAIN until the parent closes */
      ftruncate(fd, 2 * 4096);
      ftruncate(fd, FT_PAGES * 4096);
    }
    _exit(0);
  }
  int bad = 0;
  for (int r = 0; r < rounds && !bad; r++) {
    touch_all(sh, pv, r);
    pid_t c = fork();
    if (c == 0) {
      touch_all(sh, pv, r + 1);
      _exit(0);
    }
    int st = 0;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      printf("round %d: child status %#x\n", r, st);
      bad = 1;
    }
  }
  close(stop[1]);
  int st;
  if (waitpid(trunc, &st, 0) != trunc || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("truncator status %#x\n", st);
    bad = 1;
  }
  sh[0] = 42;
  char b = 0;
  pread(fd, &b, 1, 0);
  printf("forktrunc: %d rounds, children %s, shared page coherent %s\n", rounds,
         bad ? "FAILED" : "ok", b == 42 ? "yes" : "no");
  return bad;
}

/* A raw system call with up to four arguments. */
static long sys4(long nr, long a, long b, long c, long d) {
  register long a0 __asm__("a0") = a, a1 __asm__("a1") = b, a2 __asm__("a2") = c;
  register long a3 __asm__("a3") = d, a7 __asm__("a7") = nr;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a7) : "memory");
  return a0;
}

#define SYS_set_robust_list 99
#define SYS_futex_time64 422
#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u

struct robust_list {
  struct robust_list *next;
};
struct robust_list_head {
  struct robust_list list;
  long futex_offset;
  struct robust_list *list_op_pending;
};

/* One round: the child owns the word and dies by `how` ("exit" or "kill"). */
static void robust_round(volatile unsigned *shm, const char *how) {
  volatile unsigned *word = &shm[4]; /* 16 bytes after the list entry at shm[0] */
  *word = 0;
  int ready[2], go[2];
  pipe(ready);
  pipe(go);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    static struct robust_list_head head;
    struct robust_list *entry = (struct robust_list *)shm;
    entry->next = &head.list; /* the list is circular through the head */
    head.list.next = entry;
    head.futex_offset = (long)((volatile char *)word - (volatile char *)entry);
    head.list_op_pending = 0;
    *word = (unsigned)gettid();
    long r = sys4(SYS_set_robust_list, (long)&head, sizeof head, 0, 0);
    write(ready[1], r == 0 ? "y" : "n", 1);
    char b;
    read(go[0], &b, 1);
    if (!strcmp(how, "exit")) _exit(0);
    for (;;) pause();
  }
  char ok = 0;
  read(ready[0], &ok, 1);
  unsigned owner = *word;
  __atomic_compare_exchange_n(word, &owner, owner | FUTEX_WAITERS, 0, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  write(go[1], "g", 1);
  if (!strcmp(how, "kill")) kill(c, SIGKILL);
  struct {
    long long sec, nsec;
  } timeout = {10, 0};
  long r = sys4(SYS_futex_time64, (long)word, 0 /* FUTEX_WAIT */, (long)(owner | FUTEX_WAITERS),
                (long)&timeout);
  int st = 0;
  waitpid(c, &st, 0);
  unsigned w = *word;
  printf("robust (%s): set_robust_list %s, wait %s, word %s\n", how, ok == 'y' ? "ok" : "failed",
         r == -ETIMEDOUT ? "timed out" : "ended",
         w == (FUTEX_WAITERS | FUTEX_OWNER_DIED) ? "FUTEX_WAITERS|FUTEX_OWNER_DIED" : "WRONG");
  close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
}

static int robust(const char *path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, 4096) < 0) return 1;
  volatile unsigned *shm = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shm == MAP_FAILED) return 1;
  robust_round(shm, "exit");
  robust_round(shm, "kill");
  return 0;
}

static int cycles(int n, const char *path) {
  for (int i = 0; i < n; i++) {
    pid_t c = fork();
    if (c < 0) {
      printf("fork failed at cycle %d: errno %d\n", i, errno);
      return 1;
    }
    if (c == 0) {
      if (path) {
        char *argv[] = {(char *)path, 0};
        execve(path, argv, 0);
        _exit(127);
      }
      _exit(0);
    }
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      printf("cycle %d: child status %#x\n", i, st);
      return 1;
    }
  }
  printf("%d cycles of fork, %s, wait: ok\n", n, path ? "exec" : "exit");
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  if (!strcmp(cmd, "bomb")) return bomb(getpid());
  if (!strcmp(cmd, "orphan")) return orphan();
  if (!strcmp(cmd, "wait")) return waits();
  if (!strcmp(cmd, "wclone")) return wclone();
  if (!strcmp(cmd, "sleep")) return sleeper();
  if (!strcmp(cmd, "vfork")) return vforks();
  if (!strcmp(cmd, "sigchld")) return sigchlds();
  if (!strcmp(cmd, "robust") && argc > 2) return robust(argv[2]);
  if (!strcmp(cmd, "forkbus") && argc > 2) return forkbus(argv[2]);
  if (!strcmp(cmd, "forktrunc") && argc > 3) return forktrunc(argv[2], atoi(argv[3]));
  if (!strcmp(cmd, "cycles") && argc > 2) return cycles(atoi(argv[2]), argc > 3 ? argv[3] : 0);
  printf("usage: proctest bomb|orphan|wait|wclone|sleep|vfork|sigchld|forkbus PATH|robust PATH|forktrunc PATH N|cycles N [PATH]\n");
  return 2;
}
