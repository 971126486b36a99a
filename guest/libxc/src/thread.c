/* thread.c: pthreads over clone, and the per-thread errno.
 *
 * A thread's memory is one anonymous mapping: its stack, with its
 * struct xc_thread at the top. tp points at the struct (CLONE_SETTLS), so
 * errno and pthread_self read it without a system call; the first thread
 * has tp = 0 (the kernel starts a program with every register 0 but sp)
 * and uses static storage instead. The kernel writes the new thread's tid
 * into `tid` before clone returns (CLONE_PARENT_SETTID), and at the
 * thread's exit clears it and wakes a futex waiter on it
 * (CLONE_CHILD_CLEARTID): that is what pthread_join waits for. */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000
#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000

#define THREAD_FLAGS                                                                      \
  (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |     \
   CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

#define DEFAULT_STACK (256 * 1024)

struct xc_thread {
  /* Cleared by the kernel when the thread exits (join waits on it). */
  volatile int tid;
  int err;
  void *(*fn)(void *);
  void *arg;
  void *result;
  void *map;
  size_t map_len;
};

static struct xc_thread first_thread;

static inline struct xc_thread *current(void) {
  struct xc_thread *t;
  __asm__("mv %0, tp" : "=r"(t));
  return t ? t : &first_thread;
}

int *__errno_location(void) {
  return &current()->err;
}

pthread_t pthread_self(void) {
  return current();
}

static int thread_start(void *p) {
  struct xc_thread *t = p;
  t->result = t->fn(t->arg);
  return 0;
}

int pthread_attr_init(pthread_attr_t *a) {
  a->stacksize = DEFAULT_STACK;
  return 0;
}

int pthread_attr_setstacksize(pthread_attr_t *a, size_t size) {
  if (size < 16384) return EINVAL;
  a->stacksize = size;
  return 0;
}

int pthread_attr_destroy(pthread_attr_t *a) {
  (void)a;
  return 0;
}

int pthread_create(pthread_t *out, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  size_t stack = attr ? attr->stacksize : DEFAULT_STACK;
  size_t len = (stack + sizeof(struct xc_thread) + 4095) & ~(size_t)4095;
  unsigned char *map = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return EAGAIN;
  struct xc_thread *t = (struct xc_thread *)(map + len - sizeof(struct xc_thread));
  t->tid = -1;
  t->err = 0;
  t->fn = fn;
  t->arg = arg;
  t->result = 0;
  t->map = map;
  t->map_len = len;
  int r = __xc_clone(thread_start, t, THREAD_FLAGS, t, (pid_t *)&t->tid, t, (pid_t *)&t->tid);
  if (r < 0) {
    munmap(map, len);
    return -r;
  }
  *out = t;
  return 0;
}

int pthread_join(pthread_t t, void **result) {
  for (int tid = t->tid; tid != 0; tid = t->tid) xc_futex_wait(&t->tid, tid);
  if (result) *result = t->result;
  munmap(t->map, t->map_len);
  return 0;
}

/* Ends the calling thread only, the first one too: the process goes on
 * until its last thread ends (and then exits 0, without atexit handlers:
 * libxc keeps no record of who is last). */
void pthread_exit(void *result) {
  current()->result = result;
  for (;;) xc_syscall1(SYS_exit, 0);
}

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr) {
  (void)attr;
  xc_mutex_init(&m->m);
  return 0;
}

int pthread_mutex_lock(pthread_mutex_t *m) {
  xc_mutex_lock(&m->m);
  return 0;
}

int pthread_mutex_trylock(pthread_mutex_t *m) {
  return xc_mutex_trylock(&m->m) ? 0 : EBUSY;
}

int pthread_mutex_unlock(pthread_mutex_t *m) {
  xc_mutex_unlock(&m->m);
  return 0;
}

int pthread_mutex_destroy(pthread_mutex_t *m) {
  (void)m;
  return 0;
}

/* A condition variable is a sequence number: a waiter sleeps while it has
 * not moved, so a signal between the unlock and the sleep is not lost. */
int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr) {
  (void)attr;
  c->seq = 0;
  return 0;
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  int seq = c->seq;
  pthread_mutex_unlock(m);
  xc_futex_wait(&c->seq, seq);
  pthread_mutex_lock(m);
  return 0;
}

int pthread_cond_signal(pthread_cond_t *c) {
  __atomic_fetch_add(&c->seq, 1, __ATOMIC_SEQ_CST);
  xc_futex_wake(&c->seq, 1);
  return 0;
}

int pthread_cond_broadcast(pthread_cond_t *c) {
  __atomic_fetch_add(&c->seq, 1, __ATOMIC_SEQ_CST);
  xc_futex_wake(&c->seq, 0x7fffffff);
  return 0;
}

int pthread_cond_destroy(pthread_cond_t *c) {
  (void)c;
  return 0;
}
