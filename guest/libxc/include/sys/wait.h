/* sys/wait.h: waiting for children. The status word is Linux's: an exit
 * is (code & 0xff) << 8, a death by signal the signal number (0x80 if it
 * dumped core), a stop (sig << 8) | 0x7f, a continue 0xffff. */
#ifndef XC_SYS_WAIT_H
#define XC_SYS_WAIT_H

#include <sys/types.h>

#define WNOHANG 1
#define WUNTRACED 2
#define WSTOPPED 2
#define WEXITED 4
#define WCONTINUED 8
#define WNOWAIT 0x1000000

#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WTERMSIG(s) ((s) & 0x7f)
#define WSTOPSIG(s) WEXITSTATUS(s)
#define WIFCONTINUED(s) ((s) == 0xffff)
#define WIFEXITED(s) (WTERMSIG(s) == 0)
#define WIFSTOPPED(s) (((s) & 0xff) == 0x7f && !WIFCONTINUED(s))
#define WIFSIGNALED(s) (WTERMSIG(s) != 0 && WTERMSIG(s) != 0x7f)
#define WCOREDUMP(s) ((s) & 0x80)

typedef enum { P_ALL = 0, P_PID = 1, P_PGID = 2 } idtype_t;

/* What waitid reports (the SIGCHLD part of a 128-byte siginfo_t). */
typedef struct {
  int si_signo;
  int si_errno;
  int si_code;
  pid_t si_pid;
  unsigned int si_uid;
  int si_status;
  int pad[26];
} siginfo_t;

#define CLD_EXITED 1
#define CLD_KILLED 2
#define CLD_DUMPED 3
#define CLD_TRAPPED 4
#define CLD_STOPPED 5
#define CLD_CONTINUED 6

pid_t waitpid(pid_t pid, int *status, int options);
pid_t wait(int *status);
int waitid(idtype_t idtype, pid_t id, siginfo_t *info, int options);

#endif
