/* threads: a threaded parallel compute, and the thread-group rules.
 *
 *   threads compute N LIMIT  N threads count the primes below LIMIT, each
 *                            taking every N-th block of numbers; the main
 *                            thread joins them and prints the total, and
 *                            checks: one pid, distinct tids, a mutex-guarded
 *                            counter that adds up
 *   threads exitgroup        a thread calls exit(5) (exit_group) while the
 *                            others sleep in futex waits: the process ends
 *                            with 5
 *   threads segv             a thread faults: the whole process dies of
 *                            SIGSEGV while the others wait
 *   threads mainexit         main ends with pthread_exit; the last thread
 *                            prints and the process exits 0 when it ends
 *   threads tasks            with two more threads asleep, /proc/self/task
 *                            lists three tids, the pid among them; then
 *                            exit() ends all three
 *   threads sleep            three threads and main sleep in futex waits
 *                            until the process is killed
 *   threads mprotect         a thread keeps storing to a page; main makes
 *                            it read-only, then tells the thread, whose next
 *                            store must fault (the TLB shootdown reached its
 *                            hart): the process dies of SIGSEGV, never
 *                            reaching "stale"
 *   threads munmap           the same with munmap: SIGSEGV
 *   threads truncate PATH    the same with a shared mapping of PATH that
 *                            main truncates to 0: SIGBUS
 *   threads execthread [sleep]  with two threads and main asleep in futex
 *                            waits, a third thread execs this program
 *                            ("execd"): it must come back as the whole
 *                            process (Linux's de_thread), print what it
 *                            sees and exit 7 (or, with "sleep", sleep
 *                            until killed)
 *   threads execleader       the same, but main itself execs
 *   threads forkexec         a child does execthread; the parent's waitpid
 *                            must see the pid fork returned exit with 7
 * Every line is fixed, so qemu-riscv32 and xip print the same. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_THREADS 16
#define BLOCK 1000

struct job {
  int index, threads;
  unsigned limit;
  unsigned primes;
  int pid, tid;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;

static int is_prime(unsigned n) {
  if (n < 2) return 0;
  for (unsigned d = 2; d * d <= n; d++) {
    if (n % d == 0) return 0;
  }
  return 1;
}

static void *count_primes(void *p) {
  struct job *j = p;
  j->pid = getpid();
  j->tid = gettid();
  for (unsigned b = (unsigned)j->index * BLOCK; b < j->limit; b += (unsigned)j->threads * BLOCK) {
    unsigned end = b + BLOCK < j->limit ? b + BLOCK : j->limit;
    for (unsigned n = b; n < end; n++) j->primes += is_prime(n);
  }
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
  }
  return j;
}

static int compute(int n, unsigned limit) {
  if (n < 1 || n > MAX_THREADS) return 2;
  struct job jobs[MAX_THREADS];
  pthread_t ts[MAX_THREADS];
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < n; i++) {
    jobs[i].index = i;
    jobs[i].threads = n;
    jobs[i].limit = limit;
    int r = pthread_create(&ts[i], 0, count_primes, &jobs[i]);
    if (r != 0) {
      printf("pthread_create: error %d\n", r);
      return 1;
    }
  }
  unsigned total = 0;
  int same_pid = 1, distinct = 1;
  for (int i = 0; i < n; i++) {
    void *res = 0;
    pthread_join(ts[i], &res);
    if (res != &jobs[i]) distinct = 0;
    total += jobs[i].primes;
    if (jobs[i].pid != getpid()) same_pid = 0;
    if (jobs[i].tid == getpid()) distinct = 0;
    for (int k = 0; k < i; k++) {
      if (jobs[k].tid == jobs[i].tid) distinct = 0;
    }
  }
  printf("%d threads: %u primes below %u\n", n, total, limit);
  printf("every thread's getpid() is the process's: %s\n", same_pid ? "yes" : "no");
  printf("thread ids distinct and not the pid: %s\n", distinct ? "yes" : "no");
  printf("mutex-guarded counter: %d (expected %d)\n", counter, n * 1000);
  return 0;
}

static volatile int never;

static void *sleeper(void *p) {
  (void)p;
  for (;;) xc_futex_wait(&never, 0);
  return 0;
}

static void *exiter(void *p) {
  (void)p;
  exit(5);
}

static void *segv(void *p) {
  (void)p;
  *(volatile int *)8 = 1;
  return 0;
}

static int with_sleepers(void *(*fn)(void *)) {
  pthread_t t;
  for (int i = 0; i < 2; i++) pthread_create(&t, 0, sleeper, 0);
  fflush(stdout);
  pthread_create(&t, 0, fn, 0);
  pthread_join(t, 0);
  printf("not reached\n");
  return 1;
}

static void *last_words(void *p) {
  (void)p;
  for (volatile int i = 0; i < 200000; i++) {
  }
  static const char msg[] = "the last thread ends the process\n";
  write(1, msg, sizeof msg - 1);
  return 0;
}

static volatile int *page;
static volatile int told;

static void *store_loop(void *p) {
  (void)p;
  for (;;) {
    int seen = told;
    page[0]++;
    if (seen) {
      static const char msg[] = "stale: a store went through a read-only page\n";
      write(1, msg, sizeof msg - 1);
      _exit(1);
    }
  }
  return 0;
}

/* A thread keeps storing to `page`; main takes the page away with `how`
 * (mprotect read-only, munmap, or truncating the file it maps), then tells
 * the thread: its next store must fault. */
static int shootdown_race(const char *how, const char *path) {
  int fd = -1;
  if (path) {
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) < 0) return 2;
    page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  } else {
    page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  pthread_t t;
  pthread_create(&t, 0, store_loop, 0);
  while (page[0] < 1000) {
  }
  if (!strcmp(how, "mprotect")) mprotect((void *)page, 4096, PROT_READ);
  else if (!strcmp(how, "munmap")) munmap((void *)page, 4096);
  else ftruncate(fd, 0);
  told = 1;
  pthread_join(t, 0);
  return 0;
}

/* Entries of /proc/self/task (-1: cannot open it); *own: getpid() is one. */
static int count_tasks(int *own) {
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  char buf[1024];
  int n = 0;
  *own = 0;
  long got;
  while ((got = getdents64(fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < got;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      if (d->d_name[0] != '.') {
        n++;
        if (atoi(d->d_name) == getpid()) *own = 1;
      }
      off += d->d_reclen;
    }
  }
  close(fd);
  return n;
}

static int tasks(void) {
  pthread_t t;
  for (int i = 0; i < 2; i++) pthread_create(&t, 0, sleeper, 0);
  int own;
  int n = count_tasks(&own);
  if (n < 0) {
    printf("open /proc/self/task failed\n");
    return 1;
  }
  printf("task entries: %d, own pid listed: %s\n", n, own ? "yes" : "no");
  return 0;
}

static char *self_path;

/* execve this program as "execd PID TID PPID HOW": the facts before the exec. */
static void *exec_self(void *how) {
  char pid[16], tid[16], ppid[16];
  snprintf(pid, sizeof pid, "%d", getpid());
  snprintf(tid, sizeof tid, "%d", gettid());
  snprintf(ppid, sizeof ppid, "%d", getppid());
  char *argv[] = {self_path, "execd", pid, tid, ppid, how, 0};
  char *envp[] = {0};
  execve(self_path, argv, envp);
  printf("execve from a thread failed: errno %d\n", errno);
  fflush(stdout);
  _exit(1);
}

static int exec_thread(int from_leader, char *how) {
  pthread_t t;
  for (int i = 0; i < 2; i++) pthread_create(&t, 0, sleeper, 0);
  if (from_leader) exec_self(how);
  pthread_create(&t, 0, exec_self, how);
  sleeper(0); /* until the execve kills this thread */
  return 1;
}

/* The image a thread exec'd: it is the process now, alone. */
static int execd(char **argv) {
  int pid = atoi(argv[2]), tid = atoi(argv[3]), ppid = atoi(argv[4]);
  printf("after execve: getpid() is the process's pid: %s\n", getpid() == pid ? "yes" : "no");
  printf("after execve: gettid() == getpid(): %s\n", gettid() == getpid() ? "yes" : "no");
  printf("after execve: getppid() unchanged: %s\n", getppid() == ppid ? "yes" : "no");
  if (tid != pid) {
    int r = tgkill(getpid(), tid, 0);
    printf("the exec'ing thread's old tid is gone: %s\n", r < 0 && errno == ESRCH ? "yes" : "no");
  }
  int own;
  int n = count_tasks(&own);
  printf("task entries: %d, own pid listed: %s\n", n, own ? "yes" : "no");
  char path[32];
  snprintf(path, sizeof path, "/proc/%d", getpid());
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  printf("/proc/PID names the process: %s\n", fd >= 0 ? "yes" : "no");
  if (!strcmp(argv[5], "sleep")) {
    printf("sleeping\n");
    fflush(stdout);
    sleeper(0);
  }
  return 7;
}

static int fork_exec(void) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) return exec_thread(0, "");
  int st = 0;
  pid_t w = waitpid(c, &st, 0);
  printf("parent: waitpid found the pid fork returned: %s\n", w == c ? "yes" : "no");
  if (WIFEXITED(st)) printf("parent: the child exited %d\n", WEXITSTATUS(st));
  else printf("parent: the child was killed by signal %d\n", WTERMSIG(st));
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  self_path = argv[0];
  if (!strcmp(cmd, "execd") && argc > 5) return execd(argv);
  if (!strcmp(cmd, "execthread")) return exec_thread(0, argc > 2 ? argv[2] : "");
  if (!strcmp(cmd, "execleader")) return exec_thread(1, "");
  if (!strcmp(cmd, "forkexec")) return fork_exec();
  if (!strcmp(cmd, "compute") && argc > 3) return compute(atoi(argv[2]), (unsigned)atol(argv[3]));
  if (!strcmp(cmd, "exitgroup")) return with_sleepers(exiter);
  if (!strcmp(cmd, "segv")) return with_sleepers(segv);
  if (!strcmp(cmd, "mainexit")) {
    printf("main thread leaves\n");
    fflush(stdout);
    pthread_t t;
    pthread_create(&t, 0, last_words, 0);
    pthread_exit(0);
  }
  if (!strcmp(cmd, "mprotect") || !strcmp(cmd, "munmap")) return shootdown_race(cmd, 0);
  if (!strcmp(cmd, "truncate") && argc > 2) return shootdown_race(cmd, argv[2]);
  if (!strcmp(cmd, "tasks")) return tasks();
  if (!strcmp(cmd, "sleep")) {
    pthread_t t;
    for (int i = 0; i < 3; i++) pthread_create(&t, 0, sleeper, 0);
    printf("sleeping\n");
    fflush(stdout);
    sleeper(0);
  }
  printf("usage: threads compute N LIMIT | exitgroup | segv | mainexit | mprotect | tasks | sleep\n"
         "       | execthread [sleep] | execleader | forkexec\n");
  return 2;
}
