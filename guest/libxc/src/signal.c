/* signal.c: signals over the rt_sig* system calls, and setjmp/longjmp.
 *
 * The kernel's struct sigaction on riscv is { handler, flags, mask }: no
 * sa_restorer, since the kernel returns every handler through its own
 * sigreturn trampoline (the [vdso] page). raise() signals the calling
 * thread with tkill, as POSIX asks. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum {
  SYS_kill = 129,
  SYS_tkill = 130,
  SYS_tgkill = 131,
  SYS_sigaltstack = 132,
  SYS_rt_sigsuspend = 133,
  SYS_rt_sigaction = 134,
  SYS_rt_sigprocmask = 135,
  SYS_rt_sigpending = 136,
  SYS_rt_sigqueueinfo = 138,
  SYS_gettid = 178,
  SYS_rt_sigtimedwait_time64 = 421,
};

/* sizeof the kernel's sigset_t: what every rt_sig* call checks. */
#define KSIGSET 8

struct ksigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long mask[2];
};

struct ktimespec64 {
  long long tv_sec;
  long long tv_nsec;
};

static int bad_signal(int sig) {
  return sig < 1 || sig >= _NSIG;
}

int sigemptyset(sigset_t *set) {
  set->__bits[0] = set->__bits[1] = 0;
  return 0;
}

int sigfillset(sigset_t *set) {
  set->__bits[0] = set->__bits[1] = ~0UL;
  return 0;
}

int sigaddset(sigset_t *set, int sig) {
  if (bad_signal(sig)) {
    errno = EINVAL;
    return -1;
  }
  set->__bits[(sig - 1) / 32] |= 1UL << ((sig - 1) % 32);
  return 0;
}

int sigdelset(sigset_t *set, int sig) {
  if (bad_signal(sig)) {
    errno = EINVAL;
    return -1;
  }
  set->__bits[(sig - 1) / 32] &= ~(1UL << ((sig - 1) % 32));
  return 0;
}

int sigismember(const sigset_t *set, int sig) {
  if (bad_signal(sig)) {
    errno = EINVAL;
    return -1;
  }
  return (set->__bits[(sig - 1) / 32] >> ((sig - 1) % 32)) & 1;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  struct ksigaction k, ko;
  if (act) {
    k.handler = (unsigned long)act->sa_handler;
    k.flags = (unsigned long)act->sa_flags;
    k.mask[0] = act->sa_mask.__bits[0];
    k.mask[1] = act->sa_mask.__bits[1];
  }
  long r = xc_syscall4(SYS_rt_sigaction, sig, act ? (long)&k : 0, old ? (long)&ko : 0, KSIGSET);
  if (r == 0 && old) {
    old->sa_handler = (sighandler_t)ko.handler;
    old->sa_flags = (int)ko.flags;
    old->sa_mask.__bits[0] = ko.mask[0];
    old->sa_mask.__bits[1] = ko.mask[1];
  }
  return (int)__xc_ret(r);
}

/* BSD semantics, as glibc's signal(): the handler stays, calls restart. */
sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  if (sigaction(sig, &sa, &old) < 0) return SIG_ERR;
  return old.sa_handler;
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  return (int)__xc_ret(xc_syscall4(SYS_rt_sigprocmask, how, (long)set, (long)old, KSIGSET));
}

int sigpending(sigset_t *set) {
  return (int)__xc_ret(xc_syscall2(SYS_rt_sigpending, (long)set, KSIGSET));
}

int sigsuspend(const sigset_t *mask) {
  return (int)__xc_ret(xc_syscall2(SYS_rt_sigsuspend, (long)mask, KSIGSET));
}

int pause(void) {
  sigset_t cur;
  sigprocmask(SIG_BLOCK, 0, &cur);
  return sigsuspend(&cur);
}

int sigaltstack(const stack_t *ss, stack_t *old) {
  return (int)__xc_ret(xc_syscall2(SYS_sigaltstack, (long)ss, (long)old));
}

int kill(pid_t pid, int sig) {
  return (int)__xc_ret(xc_syscall2(SYS_kill, pid, sig));
}

pid_t gettid(void) {
  return (pid_t)xc_syscall1(SYS_gettid, 0);
}

int tgkill(pid_t tgid, pid_t tid, int sig) {
  return (int)__xc_ret(xc_syscall3(SYS_tgkill, tgid, tid, sig));
}

int raise(int sig) {
  return (int)__xc_ret(xc_syscall2(SYS_tkill, gettid(), sig));
}

int sigqueue(pid_t pid, int sig, const union sigval value) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = 0;
  si.si_value = value;
  return (int)__xc_ret(xc_syscall3(SYS_rt_sigqueueinfo, pid, sig, (long)&si));
}

int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  struct ktimespec64 kt, *ktp = 0;
  if (timeout) {
    kt.tv_sec = timeout->tv_sec;
    kt.tv_nsec = timeout->tv_nsec;
    ktp = &kt;
  }
  return (int)__xc_ret(
      xc_syscall4(SYS_rt_sigtimedwait_time64, (long)set, (long)info, (long)ktp, KSIGSET));
}

int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
  return sigtimedwait(set, info, 0);
}

/* ---- setjmp and longjmp ------------------------------------------------
 * jmp_buf holds ra, sp and s0..s11 (the callee-saved state of the ilp32
 * soft-float ABI). sigsetjmp keeps its own ra and s0 in the buffer, calls
 * setjmp, and on either return (the first, or a longjmp's) reloads them and
 * finishes in __xc_sigsetjmp_tail, which saves the mask the first time and
 * restores it after a siglongjmp. */

__attribute__((naked)) int setjmp(jmp_buf env) {
  __asm__ volatile(
      "sw ra, 0(a0)\n"
      "sw sp, 4(a0)\n"
      "sw s0, 8(a0)\n"
      "sw s1, 12(a0)\n"
      "sw s2, 16(a0)\n"
      "sw s3, 20(a0)\n"
      "sw s4, 24(a0)\n"
      "sw s5, 28(a0)\n"
      "sw s6, 32(a0)\n"
      "sw s7, 36(a0)\n"
      "sw s8, 40(a0)\n"
      "sw s9, 44(a0)\n"
      "sw s10, 48(a0)\n"
      "sw s11, 52(a0)\n"
      "li a0, 0\n"
      "ret\n");
}

__attribute__((naked, noreturn)) void longjmp(jmp_buf env, int val) {
  __asm__ volatile(
      "lw ra, 0(a0)\n"
      "lw sp, 4(a0)\n"
      "lw s0, 8(a0)\n"
      "lw s1, 12(a0)\n"
      "lw s2, 16(a0)\n"
      "lw s3, 20(a0)\n"
      "lw s4, 24(a0)\n"
      "lw s5, 28(a0)\n"
      "lw s6, 32(a0)\n"
      "lw s7, 36(a0)\n"
      "lw s8, 40(a0)\n"
      "lw s9, 44(a0)\n"
      "lw s10, 48(a0)\n"
      "lw s11, 52(a0)\n"
      "seqz a0, a1\n"
      "add a0, a0, a1\n" /* longjmp(env, 0) returns 1 */
      "ret\n");
}

int __xc_sigsetjmp_tail(sigjmp_buf env, int ret) {
  if (env->__savemask) {
    if (ret) xc_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)env->__mask, 0, KSIGSET);
    else xc_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, 0, (long)env->__mask, KSIGSET);
  }
  return ret;
}

/* Offsets below follow struct __xc_sigjmp in setjmp.h. */
__attribute__((naked)) int sigsetjmp(sigjmp_buf env, int savemask) {
  __asm__ volatile(
      "sw a1, 56(a0)\n" /* __savemask */
      "sw ra, 68(a0)\n" /* __ra */
      "sw s0, 72(a0)\n" /* __s0 */
      "mv s0, a0\n"
      "call setjmp\n"
      "mv a1, a0\n"
      "mv a0, s0\n"
      "lw ra, 68(a0)\n"
      "lw s0, 72(a0)\n"
      "tail __xc_sigsetjmp_tail\n");
}

void siglongjmp(sigjmp_buf env, int val) {
  longjmp(env->__jb, val);
}
