/* sys/shm.h: System V shared memory. struct shmid_ds is the kernel's
 * shmid64_ds (times split into low and high words) followed by the same
 * times as time_t, which shmctl(IPC_STAT) fills in, as musl does. */
#ifndef XC_SYS_SHM_H
#define XC_SYS_SHM_H

#include <sys/ipc.h>

#define SHMLBA 4096
#define SHM_RDONLY 010000
#define SHM_RND 020000
#define SHM_REMAP 040000
#define SHM_EXEC 0100000
#define SHM_LOCK 11
#define SHM_UNLOCK 12
#define SHM_STAT 13
#define SHM_INFO 14
#define SHM_STAT_ANY 15
#define SHM_DEST 01000
#define SHM_LOCKED 02000

typedef unsigned long shmatt_t;

struct shmid_ds {
  struct ipc_perm shm_perm;
  size_t shm_segsz;
  unsigned long __shm_atime_lo, __shm_atime_hi;
  unsigned long __shm_dtime_lo, __shm_dtime_hi;
  unsigned long __shm_ctime_lo, __shm_ctime_hi;
  pid_t shm_cpid;
  pid_t shm_lpid;
  unsigned long shm_nattch;
  unsigned long __pad1, __pad2, __pad3;
  time_t shm_atime;
  time_t shm_dtime;
  time_t shm_ctime;
};

struct shminfo {
  unsigned long shmmax, shmmin, shmmni, shmseg, shmall, __unused[4];
};

int shmget(key_t key, size_t size, int flag);
void *shmat(int id, const void *addr, int flag);
int shmdt(const void *addr);
int shmctl(int id, int cmd, struct shmid_ds *buf);

#endif
