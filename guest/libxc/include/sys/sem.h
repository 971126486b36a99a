/* sys/sem.h: System V semaphores. struct semid_ds is the kernel's
 * semid64_ds followed by its times as time_t (semctl IPC_STAT fills them). */
#ifndef XC_SYS_SEM_H
#define XC_SYS_SEM_H

#include <sys/ipc.h>
#include <time.h>

#define SEM_UNDO 0x1000
#define GETPID 11
#define GETVAL 12
#define GETALL 13
#define GETNCNT 14
#define GETZCNT 15
#define SETVAL 16
#define SETALL 17
#define SEM_STAT 18
#define SEM_INFO 19
#define SEM_STAT_ANY 20

struct sembuf {
  unsigned short sem_num;
  short sem_op;
  short sem_flg;
};

struct semid_ds {
  struct ipc_perm sem_perm;
  unsigned long __sem_otime_lo, __sem_otime_hi;
  unsigned long __sem_ctime_lo, __sem_ctime_hi;
  unsigned long sem_nsems;
  long __unused3, __unused4;
  time_t sem_otime;
  time_t sem_ctime;
};

struct seminfo {
  int semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
};

int semget(key_t key, int nsems, int flag);
int semop(int id, struct sembuf *ops, size_t n);
/* As semop, giving up with EAGAIN after the relative timeout (NULL: never). */
int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *timeout);
/* The fourth argument is union semun, passed by value (an int or a pointer). */
int semctl(int id, int num, int cmd, ...);

#endif
