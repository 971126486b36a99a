/* sys/ipc.h: System V IPC keys, flags and permissions (Linux riscv32).
 * struct ipc_perm has the kernel's ipc64_perm layout. */
#ifndef XC_SYS_IPC_H
#define XC_SYS_IPC_H

#include <sys/types.h>

typedef int key_t;

#define IPC_PRIVATE ((key_t)0)
#define IPC_CREAT 01000
#define IPC_EXCL 02000
#define IPC_NOWAIT 04000
#define IPC_RMID 0
#define IPC_SET 1
#define IPC_STAT 2
#define IPC_INFO 3

struct ipc_perm {
  key_t __ipc_perm_key;
  uid_t uid;
  gid_t gid;
  uid_t cuid;
  gid_t cgid;
  mode_t mode;
  int __ipc_perm_seq;
  long __pad1;
  long __pad2;
};

/* A key from a path's inode and device and a project byte (POSIX ftok). */
key_t ftok(const char *path, int id);

#endif
