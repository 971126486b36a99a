/* signal.h: signals, with the Linux riscv32 kernel's numbers and layouts.
 *
 * sigset_t is the kernel's own 64-bit set (two words), so libxc passes it
 * to rt_sig* as it is. struct sigaction is libxc's; sigaction() converts it
 * to the kernel's { handler, flags, mask } (riscv has no sa_restorer:
 * handlers return through the kernel's vDSO trampoline). siginfo_t and
 * ucontext_t are laid out exactly as the kernel writes them in a signal
 * frame. */
#ifndef XC_SIGNAL_H
#define XC_SIGNAL_H

#include <sys/types.h>
#include <time.h>

#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGSTKFLT 16
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGURG 23
#define SIGXCPU 24
#define SIGXFSZ 25
#define SIGVTALRM 26
#define SIGPROF 27
#define SIGWINCH 28
#define SIGIO 29
#define SIGPWR 30
#define SIGSYS 31
/* The kernel's real-time range (libxc reserves none of it for itself). */
#define SIGRTMIN 32
#define SIGRTMAX 64
#define _NSIG 65

typedef void (*sighandler_t)(int);
#define SIG_DFL ((sighandler_t)0)
#define SIG_IGN ((sighandler_t)1)
#define SIG_ERR ((sighandler_t)-1)

#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2

#define SA_NOCLDSTOP 0x00000001
#define SA_NOCLDWAIT 0x00000002
#define SA_SIGINFO 0x00000004
#define SA_UNSUPPORTED 0x00000400
#define SA_RESTORER 0x04000000 /* not a riscv flag: the kernel clears it */
#define SA_ONSTACK 0x08000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000

#define SS_ONSTACK 1
#define SS_DISABLE 2
#define SS_AUTODISARM (1U << 31)
#define MINSIGSTKSZ 2048
#define SIGSTKSZ 8192

/* si_code */
#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_QUEUE (-1)
#define SI_TKILL (-6)
#define ILL_ILLOPC 1
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define BUS_ADRALN 1
#define BUS_ADRERR 2
#define BUS_MCEERR_AR 4
#define TRAP_BRKPT 1
#define CLD_EXITED 1
#define CLD_KILLED 2
#define CLD_STOPPED 5
#define CLD_CONTINUED 6

typedef struct {
  unsigned long __bits[2];
} sigset_t;

union sigval {
  int sival_int;
  void *sival_ptr;
};

/* 128 bytes; the union starts at offset 12. */
typedef struct {
  int si_signo;
  int si_errno;
  int si_code;
  union {
    struct {
      pid_t si_pid;
      unsigned si_uid;
      union sigval si_value;
    } __rt;
    struct {
      pid_t si_pid;
      unsigned si_uid;
      int si_status;
      long si_utime, si_stime;
    } __chld;
    struct {
      void *si_addr;
      short si_addr_lsb;
    } __fault;
    int __pad[29];
  } __u;
} siginfo_t;
#define si_pid __u.__rt.si_pid
#define si_uid __u.__rt.si_uid
#define si_value __u.__rt.si_value
#define si_status __u.__chld.si_status
#define si_addr __u.__fault.si_addr
#define si_addr_lsb __u.__fault.si_addr_lsb

typedef struct {
  void *ss_sp;
  int ss_flags;
  size_t ss_size;
} stack_t;

/* uc_mcontext.__gregs: the pc, then x1..x31 (riscv's user_regs_struct). */
#define REG_PC 0
#define REG_RA 1
#define REG_SP 2
#define REG_A0 10
typedef struct {
  unsigned long __gregs[32];
  unsigned long long __fpregs[66] __attribute__((aligned(16))); /* rv32ima: unused, zero */
} mcontext_t;

typedef struct ucontext {
  unsigned long uc_flags;
  struct ucontext *uc_link;
  stack_t uc_stack;
  sigset_t uc_sigmask;
  unsigned char __pad[120];
  mcontext_t uc_mcontext;
} ucontext_t;

struct sigaction {
  union {
    sighandler_t sa_handler;
    void (*sa_sigaction)(int, siginfo_t *, void *);
  };
  sigset_t sa_mask;
  int sa_flags;
};

int sigemptyset(sigset_t *set);
int sigfillset(sigset_t *set);
int sigaddset(sigset_t *set, int sig);
int sigdelset(sigset_t *set, int sig);
int sigismember(const sigset_t *set, int sig);

int sigaction(int sig, const struct sigaction *act, struct sigaction *old);
sighandler_t signal(int sig, sighandler_t handler);
int sigprocmask(int how, const sigset_t *set, sigset_t *old);
int sigpending(sigset_t *set);
int sigsuspend(const sigset_t *mask);
int sigaltstack(const stack_t *ss, stack_t *old);
int sigqueue(pid_t pid, int sig, const union sigval value);
int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout);
int sigwaitinfo(const sigset_t *set, siginfo_t *info);
int kill(pid_t pid, int sig);
int tgkill(pid_t tgid, pid_t tid, int sig);
int raise(int sig);
int pause(void);
pid_t gettid(void);

#endif
