/* forkcow: fork and copy-on-write isolation, and wait's status words.
 *
 * Before forking, the parent writes a known value into each kind of
 * private memory: .data (a private file mapping: COW from the file, DAX or
 * page cache), .bss, the stack, an anonymous mapping (one page written,
 * one only read, so it maps the zero page), the heap (brk) and a shared
 * file mapping. After the fork:
 *  1. the child writes new values everywhere and exits 7; the parent then
 *     still sees its own values, except in the shared mapping, where it
 *     sees the child's;
 *  2. the parent writes new values and releases a second child through the
 *     shared page; that child, forked before the writes, still sees the
 *     values of its fork;
 *  3. a third child dies of SIGSEGV, a fourth exits 0 and is polled for
 *     with WNOHANG; then waitpid reports ECHILD.
 * Every line it prints is fixed, so the output is the same under
 * qemu-riscv32 and xip. Usage: forkcow [SHARED-FILE] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int data_word = 1;
static int bss_word;
static int *anon, *heap;
static volatile int *shared;

static void show(const char *who, int stack_word) {
  printf("%s: data %d bss %d stack %d anon %d zero %d heap %d shared %d\n", who, data_word,
         bss_word, stack_word, anon[0], anon[1024], heap[0], shared[0]);
}

static void report(pid_t pid, pid_t want, int status) {
  if (pid != want) {
    printf("waitpid returned %d, wanted the child\n", pid);
    exit(1);
  }
  if (WIFEXITED(status)) printf("child exited %d\n", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) printf("child killed by signal %d\n", WTERMSIG(status));
  else printf("child status %#x\n", status);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "forkcow.dat";
  int stack_word = 3;
  bss_word = 2;
  anon = mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  heap = sbrk(8192);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (anon == MAP_FAILED || heap == (void *)-1 || fd < 0 || ftruncate(fd, 4096) < 0) {
    printf("setup failed\n");
    return 1;
  }
  shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shared == MAP_FAILED) {
    printf("shared mmap failed\n");
    return 1;
  }
  anon[0] = 4;
  heap[0] = 5;
  shared[0] = 6;
  show("parent before fork", stack_word);
  fflush(stdout);

  /* 1. The child writes; the parent's private memory must not change. */
  pid_t c1 = fork();
  if (c1 < 0) {
    printf("fork failed\n");
    return 1;
  }
  if (c1 == 0) {
    data_word = 10, bss_word = 20, stack_word = 30;
    anon[0] = 40, anon[1024] = 41, heap[0] = 50, shared[0] = 60;
    show("child 1", stack_word);
    exit(7);
  }
  int status = 0;
  report(waitpid(c1, &status, 0), c1, status);
  show("parent after child 1", stack_word);

  /* 2. The parent writes after the fork; the child must not see it. */
  shared[1] = 0;
  fflush(stdout); /* else each child would print the parent's buffered lines again */
  pid_t c2 = fork();
  if (c2 == 0) {
    while (shared[1] == 0) {
    }
    show("child 2", stack_word);
    exit(0);
  }
  data_word = 100, bss_word = 200, stack_word = 300;
  anon[0] = 400, anon[1024] = 401, heap[0] = 500;
  shared[1] = 1;
  report(waitpid(c2, &status, 0), c2, status);
  show("parent after child 2", stack_word);
  fflush(stdout);

  /* 3. A death by signal, a WNOHANG poll, then no children left. */
  pid_t c3 = fork();
  if (c3 == 0) {
    *(volatile int *)16 = 1;
    exit(0);
  }
  report(waitpid(c3, &status, 0), c3, status);
  fflush(stdout);
  pid_t c4 = fork();
  if (c4 == 0) exit(0);
  pid_t got;
  while ((got = waitpid(-1, &status, WNOHANG)) == 0) {
  }
  report(got, c4, status);
  if (waitpid(-1, &status, 0) < 0 && errno == ECHILD) printf("no more children: ECHILD\n");
  close(fd);
  return 0;
}
