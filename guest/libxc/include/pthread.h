/* pthread.h: threads, each a clone sharing the address space, files and
 * signal handlers (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
 * CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
 * CLONE_CHILD_CLEARTID, as other C libraries create them).
 *
 * errno is per thread. malloc is safe to call from several threads; the
 * stdio streams are not (a thread should write(2) or leave printing to
 * one thread). */
#ifndef XC_PTHREAD_H
#define XC_PTHREAD_H

#include <sys/types.h>
#include <xc/sync.h>

typedef struct xc_thread *pthread_t;
typedef struct {
  size_t stacksize;
} pthread_attr_t;
typedef struct {
  xc_mutex m;
} pthread_mutex_t;
typedef struct {
  int unused;
} pthread_mutexattr_t;
typedef struct {
  volatile int seq;
} pthread_cond_t;
typedef struct {
  int unused;
} pthread_condattr_t;

#define PTHREAD_MUTEX_INITIALIZER {XC_MUTEX_INIT}
#define PTHREAD_COND_INITIALIZER {0}

int pthread_attr_init(pthread_attr_t *a);
int pthread_attr_setstacksize(pthread_attr_t *a, size_t size);
int pthread_attr_destroy(pthread_attr_t *a);
int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int pthread_join(pthread_t t, void **result);
pthread_t pthread_self(void);
void pthread_exit(void *result) __attribute__((noreturn));

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr);
int pthread_mutex_lock(pthread_mutex_t *m);
int pthread_mutex_trylock(pthread_mutex_t *m);
int pthread_mutex_unlock(pthread_mutex_t *m);
int pthread_mutex_destroy(pthread_mutex_t *m);

int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr);
int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
int pthread_cond_signal(pthread_cond_t *c);
int pthread_cond_broadcast(pthread_cond_t *c);
int pthread_cond_destroy(pthread_cond_t *c);

#endif
