/* ipc.c: System V IPC (shm, sem, msg), POSIX shared memory (shm_open over
 * the tmpfs on /dev/shm) and POSIX semaphores over a futex word.
 *
 * riscv32 has one system call per System V IPC call and no ipc(2); the
 * kernel always uses the "64" structures, whose times are split into a low
 * and a high word; the *ctl wrappers fill the time_t copies at the end of
 * libxc's structures from them, as musl does. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xc/sync.h>

#include "internal.h"

/* System V IPC numbers (asm-generic unistd.h). */
enum {
  SYS_msgget = 186,
  SYS_msgctl = 187,
  SYS_msgrcv = 188,
  SYS_msgsnd = 189,
  SYS_semget = 190,
  SYS_semctl = 191,
  SYS_semop = 193,
  SYS_shmget = 194,
  SYS_shmctl = 195,
  SYS_shmat = 196,
  SYS_shmdt = 197,
  SYS_semtimedop_time64 = 420,
};

#define HILO(lo, hi) ((time_t)(lo) | (time_t)(hi) << 32)

key_t ftok(const char *path, int id) {
  struct stat st;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  int r = fstat(fd, &st);
  close(fd);
  if (r < 0) return -1;
  return (key_t)((st.st_ino & 0xffff) | ((st.st_dev & 0xff) << 16) | ((unsigned)(id & 0xff) << 24));
}

int shmget(key_t key, size_t size, int flag) {
  return (int)__xc_ret(xc_syscall3(SYS_shmget, key, size, flag));
}

void *shmat(int id, const void *addr, int flag) {
  return (void *)__xc_ret(xc_syscall3(SYS_shmat, id, addr, flag));
}

int shmdt(const void *addr) {
  return (int)__xc_ret(xc_syscall1(SYS_shmdt, addr));
}

int shmctl(int id, int cmd, struct shmid_ds *buf) {
  int r = (int)__xc_ret(xc_syscall3(SYS_shmctl, id, cmd, buf));
  if (r >= 0 && buf && (cmd == IPC_STAT || cmd == SHM_STAT || cmd == SHM_STAT_ANY)) {
    buf->shm_atime = HILO(buf->__shm_atime_lo, buf->__shm_atime_hi);
    buf->shm_dtime = HILO(buf->__shm_dtime_lo, buf->__shm_dtime_hi);
    buf->shm_ctime = HILO(buf->__shm_ctime_lo, buf->__shm_ctime_hi);
  }
  return r;
}

int semget(key_t key, int nsems, int flag) {
  return (int)__xc_ret(xc_syscall3(SYS_semget, key, nsems, flag));
}

int semop(int id, struct sembuf *ops, size_t n) {
  return (int)__xc_ret(xc_syscall3(SYS_semop, id, ops, n));
}

int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *timeout) {
  long long ts[2];
  if (timeout) {
    ts[0] = timeout->tv_sec;
    ts[1] = timeout->tv_nsec;
  }
  return (int)__xc_ret(xc_syscall4(SYS_semtimedop_time64, id, ops, n, timeout ? ts : 0));
}

int semctl(int id, int num, int cmd, ...) {
  long arg = 0;
  switch (cmd) {
  case SETVAL: case GETALL: case SETALL: case IPC_SET: case IPC_STAT:
  case IPC_INFO: case SEM_INFO: case SEM_STAT: case SEM_STAT_ANY: {
    va_list ap;
    va_start(ap, cmd);
    arg = va_arg(ap, long); /* union semun: an int or a pointer, one register */
    va_end(ap);
  }
  }
  int r = (int)__xc_ret(xc_syscall4(SYS_semctl, id, num, cmd, arg));
  if (r >= 0 && arg && (cmd == IPC_STAT || cmd == SEM_STAT || cmd == SEM_STAT_ANY)) {
    struct semid_ds *b = (struct semid_ds *)arg;
    b->sem_otime = HILO(b->__sem_otime_lo, b->__sem_otime_hi);
    b->sem_ctime = HILO(b->__sem_ctime_lo, b->__sem_ctime_hi);
  }
  return r;
}

int msgget(key_t key, int flag) {
  return (int)__xc_ret(xc_syscall2(SYS_msgget, key, flag));
}

int msgsnd(int id, const void *msg, size_t len, int flag) {
  return (int)__xc_ret(xc_syscall4(SYS_msgsnd, id, msg, len, flag));
}

ssize_t msgrcv(int id, void *msg, size_t len, long type, int flag) {
  return __xc_ret(xc_syscall5(SYS_msgrcv, id, msg, len, type, flag));
}

int msgctl(int id, int cmd, struct msqid_ds *buf) {
  int r = (int)__xc_ret(xc_syscall3(SYS_msgctl, id, cmd, buf));
  if (r >= 0 && buf && (cmd == IPC_STAT || cmd == MSG_STAT || cmd == MSG_STAT_ANY)) {
    buf->msg_stime = HILO(buf->__msg_stime_lo, buf->__msg_stime_hi);
    buf->msg_rtime = HILO(buf->__msg_rtime_lo, buf->__msg_rtime_hi);
    buf->msg_ctime = HILO(buf->__msg_ctime_lo, buf->__msg_ctime_hi);
  }
  return r;
}

/* ------------------------------------------------------------------------
 * POSIX shared memory and named semaphores: files of the tmpfs on /dev/shm. */

#define SHM_DIR "/dev/shm/"
#define NAME_MAX 255

/* "/dev/shm/" + PREFIX + NAME without its one leading '/' into buf; 0, or
 * -1 with EINVAL (empty, "." or "..", or another '/') or ENAMETOOLONG. */
static int shm_path(char *buf, const char *prefix, const char *name) {
  if (*name == '/') name++;
  size_t n = strlen(name);
  if (n == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    errno = EINVAL;
    return -1;
  }
  if (n + strlen(prefix) > NAME_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buf, SHM_DIR);
  strcat(buf, prefix);
  strcat(buf, name);
  return 0;
}

int shm_open(const char *name, int oflag, mode_t mode) {
  char path[sizeof SHM_DIR + NAME_MAX + 1];
  if (shm_path(path, "", name) < 0) return -1;
  return open(path, oflag | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
}

int shm_unlink(const char *name) {
  char path[sizeof SHM_DIR + NAME_MAX + 1];
  if (shm_path(path, "", name) < 0) return -1;
  return unlink(path);
}

static inline int sem_cas(volatile int *p, int expect, int desire) {
  int old, fail;
  __asm__ volatile(
      "1: lr.w.aqrl %0, (%2)\n"
      "   bne %0, %3, 2f\n"
      "   sc.w.aqrl %1, %4, (%2)\n"
      "   bnez %1, 1b\n"
      "2:\n"
      : "=&r"(old), "=&r"(fail)
      : "r"(p), "r"(expect), "r"(desire)
      : "memory");
  return old;
}

static inline int sem_add(volatile int *p, int v) {
  int old;
  __asm__ volatile("amoadd.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
  return old;
}

/* Map an open semaphore file. A named one is linked into place only once
 * its value is written, so a short file is no semaphore. */
static sem_t *sem_map(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return SEM_FAILED;
  if (st.st_size < (off_t)sizeof(sem_t)) {
    errno = EINVAL;
    return SEM_FAILED;
  }
  void *p = mmap(0, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? SEM_FAILED : (sem_t *)p;
}

/* Make a semaphore file holding `value` under a private temporary name,
 * then link it to `path`: nobody can open the name before the value is
 * there. Returns the open fd, or -1 with errno (EEXIST: `path` exists). */
static int sem_create(const char *path, mode_t mode, unsigned value) {
  static int serial;
  char tmp[sizeof SHM_DIR + 32];
  int fd;
  do {
    snprintf(tmp, sizeof tmp, "%stmp-%d-%d", SHM_DIR, getpid(), sem_add(&serial, 1));
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EEXIST);
  if (fd < 0) return -1;
  sem_t init = {(int)value, 0};
  int ok = write(fd, &init, sizeof init) == (ssize_t)sizeof init && link(tmp, path) == 0;
  int err = errno;
  unlink(tmp);
  if (!ok) {
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

sem_t *sem_open(const char *name, int oflag, ...) {
  char path[sizeof SHM_DIR + NAME_MAX + 1];
  if (shm_path(path, "sem.", name) < 0) return SEM_FAILED;
  mode_t mode = 0;
  unsigned value = 0;
  if (oflag & O_CREAT) {
    va_list ap;
    va_start(ap, oflag);
    mode = va_arg(ap, mode_t);
    value = va_arg(ap, unsigned);
    va_end(ap);
    if (value > SEM_VALUE_MAX) {
      errno = EINVAL;
      return SEM_FAILED;
    }
  }
  for (;;) {
    if (!(oflag & O_EXCL)) {
      int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        sem_t *s = sem_map(fd);
        close(fd);
        return s;
      }
      if (errno != ENOENT || !(oflag & O_CREAT)) return SEM_FAILED;
    }
    int fd = sem_create(path, mode, value);
    if (fd < 0) {
      if (errno == EEXIST && !(oflag & O_EXCL)) continue; /* lost a race: open theirs */
      return SEM_FAILED;
    }
    sem_t *s = sem_map(fd);
    close(fd);
    return s;
  }
}

int sem_close(sem_t *sem) {
  return munmap(sem, sizeof(sem_t));
}

int sem_unlink(const char *name) {
  char path[sizeof SHM_DIR + NAME_MAX + 1];
  if (shm_path(path, "sem.", name) < 0) return -1;
  return unlink(path);
}

int sem_init(sem_t *sem, int pshared, unsigned value) {
  (void)pshared; /* the futex calls are shared ones either way */
  if (value > SEM_VALUE_MAX) {
    errno = EINVAL;
    return -1;
  }
  sem->__value = (int)value;
  sem->__waiters = 0;
  return 0;
}

int sem_destroy(sem_t *sem) {
  (void)sem;
  return 0;
}

int sem_trywait(sem_t *sem) {
  for (int v = sem->__value; v > 0; v = sem->__value) {
    if (sem_cas(&sem->__value, v, v - 1) == v) return 0;
  }
  errno = EAGAIN;
  return -1;
}

int sem_wait(sem_t *sem) {
  for (;;) {
    if (sem_trywait(sem) == 0) return 0;
    sem_add(&sem->__waiters, 1);
    int r = xc_futex_wait(&sem->__value, 0);
    int e = errno;
    sem_add(&sem->__waiters, -1);
    if (r < 0 && e == EINTR) {
      errno = EINTR;
      return -1;
    }
  }
}

int sem_post(sem_t *sem) {
  for (;;) {
    int v = sem->__value;
    if (v == SEM_VALUE_MAX) {
      errno = EOVERFLOW;
      return -1;
    }
    if (sem_cas(&sem->__value, v, v + 1) == v) break;
  }
  /* A waiter counts itself before it sleeps on a value of 0: either we see
   * it here, or its futex wait finds the value we just raised. */
  if (sem->__waiters) xc_futex_wake(&sem->__value, 1);
  return 0;
}

int sem_getvalue(sem_t *sem, int *value) {
  *value = sem->__value;
  return 0;
}
