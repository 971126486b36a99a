/* sys/msg.h: System V message queues. struct msqid_ds is the kernel's
 * msqid64_ds followed by its times as time_t (msgctl IPC_STAT fills them). */
#ifndef XC_SYS_MSG_H
#define XC_SYS_MSG_H

#include <sys/ipc.h>

#define MSG_NOERROR 010000
#define MSG_EXCEPT 020000
#define MSG_COPY 040000
#define MSG_STAT 11
#define MSG_INFO 12
#define MSG_STAT_ANY 13

typedef unsigned long msgqnum_t;
typedef unsigned long msglen_t;

struct msqid_ds {
  struct ipc_perm msg_perm;
  unsigned long __msg_stime_lo, __msg_stime_hi;
  unsigned long __msg_rtime_lo, __msg_rtime_hi;
  unsigned long __msg_ctime_lo, __msg_ctime_hi;
  unsigned long msg_cbytes;
  msgqnum_t msg_qnum;
  msglen_t msg_qbytes;
  pid_t msg_lspid;
  pid_t msg_lrpid;
  unsigned long __unused[2];
  time_t msg_stime;
  time_t msg_rtime;
  time_t msg_ctime;
};

struct msginfo {
  int msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql;
  unsigned short msgseg;
};

int msgget(key_t key, int flag);
int msgsnd(int id, const void *msg, size_t len, int flag);
ssize_t msgrcv(int id, void *msg, size_t len, long type, int flag);
int msgctl(int id, int cmd, struct msqid_ds *buf);

#endif
