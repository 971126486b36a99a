/* semaphore.h: POSIX semaphores over a futex word. A named semaphore
 * (sem_open) is a file /dev/shm/sem.NAME holding a sem_t, mapped
 * MAP_SHARED, so every process that opens the name uses the same word. An
 * unnamed one (sem_init) shared between processes must itself live in
 * shared memory. */
#ifndef XC_SEMAPHORE_H
#define XC_SEMAPHORE_H

#include <fcntl.h>
#include <time.h>

typedef struct {
  volatile int __value;
  volatile int __waiters;
} sem_t;

#define SEM_FAILED ((sem_t *)0)
#define SEM_VALUE_MAX 0x7fffffff

/* oflag O_CREAT (and O_EXCL) take two more arguments: mode_t, unsigned value. */
sem_t *sem_open(const char *name, int oflag, ...);
int sem_close(sem_t *sem);
int sem_unlink(const char *name);
int sem_init(sem_t *sem, int pshared, unsigned value);
int sem_destroy(sem_t *sem);
int sem_wait(sem_t *sem);
int sem_trywait(sem_t *sem);
int sem_post(sem_t *sem);
int sem_getvalue(sem_t *sem, int *value);

#endif
