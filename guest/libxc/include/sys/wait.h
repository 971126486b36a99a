/* sys/wait.h: waiting for children. The status word is Linux's: an exit
 * is (code & 0xff) << 8, a death by signal the signal number (0x80 if it
 * dumped core), a stop (sig << 8) | 0x7f, a continue 0xffff. */
#ifndef XC_SYS_WAIT_H
#define XC_SYS_WAIT_H

#include <signal.h>
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

/* waitid reports in a siginfo_t (signal.h): si_pid, si_status, and
 * si_code CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED or
 * CLD_CONTINUED. */
#ifndef CLD_DUMPED
#define CLD_DUMPED 3
#define CLD_TRAPPED 4
#endif

pid_t waitpid(pid_t pid, int *status, int options);
pid_t wait(int *status);
int waitid(idtype_t idtype, pid_t id, siginfo_t *info, int options);

#endif
