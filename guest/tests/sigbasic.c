/* sigbasic: signal handling a program can check by itself, printed so that
 * xip and qemu-riscv32 can be compared line by line (no addresses or pids
 * are printed, only whether they match). Lines starting "linux-only:" show
 * where qemu-riscv32 7.2 differs from Linux (it leaves sa_mask out of the
 * mask a handler runs with, and keeps unknown sa_flags); the tests compare
 * them with Linux's answer instead. Exits 0. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile int hits, last_sig, last_code, last_pid_ok, last_value;
static volatile int mask_usr1, mask_usr2;
static int order[16], norder;
static char altstack[16384];
static volatile int on_alt, alt_flags, uc_stack_ok;

static void record(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  hits++;
  last_sig = sig;
  last_code = si->si_code;
  last_pid_ok = si->si_pid == getpid();
  last_value = si->si_value.sival_int;
  sigset_t m;
  sigprocmask(SIG_BLOCK, 0, &m); /* a query: nothing changes */
  mask_usr1 = sigismember(&m, SIGUSR1);
  mask_usr2 = sigismember(&m, SIGUSR2);
}

static void rt_order(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (norder < 16) order[norder++] = sig * 10000 + (si->si_code == SI_QUEUE ? si->si_value.sival_int : 0);
}

static void alt_handler(int sig, siginfo_t *si, void *ucv) {
  (void)sig;
  (void)si;
  ucontext_t *uc = ucv;
  char here;
  on_alt = &here >= altstack && &here < altstack + sizeof altstack;
  stack_t cur;
  sigaltstack(0, &cur);
  alt_flags = cur.ss_flags;
  uc_stack_ok = uc->uc_stack.ss_sp == altstack && uc->uc_stack.ss_size == sizeof altstack;
}

static volatile int trap_sig, trap_code, trap_addr_ok;

/* Skip the faulting instruction: sigreturn restores the pc from the frame. */
static void skip_insn(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  trap_sig = sig;
  trap_code = si->si_code;
  trap_addr_ok = (unsigned long)si->si_addr == uc->uc_mcontext.__gregs[REG_PC];
  uc->uc_mcontext.__gregs[REG_PC] += 4;
}

static sigjmp_buf jb;
static volatile int segv_code;
static void *volatile segv_addr;

static void segv_jump(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  segv_code = si->si_code;
  segv_addr = si->si_addr;
  siglongjmp(jb, 1);
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags, int also) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  if (also) sigaddset(&sa.sa_mask, also);
  if (sigaction(sig, &sa, 0) != 0) printf("sigaction %d failed: errno %d\n", sig, errno);
}

static int blocked(int sig) {
  sigset_t m;
  sigprocmask(SIG_SETMASK, 0, &m); /* query only */
  return sigismember(&m, sig);
}

static void block(int how, int a, int b) {
  sigset_t s;
  sigemptyset(&s);
  if (a) sigaddset(&s, a);
  if (b) sigaddset(&s, b);
  sigprocmask(how, &s, 0);
}

int main(void) {
  /* 1. A handler with siginfo; its mask is sa_mask plus the signal. */
  install(SIGUSR1, record, 0, SIGUSR2);
  raise(SIGUSR1);
  printf("usr1: hits=%d sig=%d code=%d pid=%s\n", hits, last_sig, last_code,
         last_pid_ok ? "self" : "other");
  printf("in handler: usr1 blocked=%d\n", mask_usr1);
  printf("linux-only: in handler usr2 (sa_mask) blocked=%d\n", mask_usr2);
  printf("after: usr1 blocked=%d usr2 blocked=%d\n", blocked(SIGUSR1), blocked(SIGUSR2));

  /* 2. SA_NODEFER leaves the signal itself unblocked. */
  install(SIGUSR1, record, SA_NODEFER, 0);
  raise(SIGUSR1);
  printf("nodefer: usr1 blocked in handler=%d\n", mask_usr1);

  /* 3. A blocked signal waits, shows in sigpending, runs on unblock. */
  install(SIGUSR2, record, 0, 0);
  hits = 0;
  block(SIG_BLOCK, SIGUSR2, 0);
  raise(SIGUSR2);
  raise(SIGUSR2); /* a standard signal is pending at most once */
  sigset_t p;
  sigpending(&p);
  printf("blocked: hits=%d pending usr2=%d\n", hits, sigismember(&p, SIGUSR2));
  block(SIG_UNBLOCK, SIGUSR2, 0);
  printf("unblocked: hits=%d sig=%d\n", hits, last_sig);

  /* 4. Ignored, explicitly and by default. (sigaction without SA_RESTART:
   * qemu-riscv32 7.2 delivers a SIG_IGN signal whose flags have it.) */
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ign, 0);
  raise(SIGUSR1);
  raise(SIGCHLD);
  raise(SIGURG);
  raise(SIGWINCH);
  raise(SIGCONT);
  printf("ignored signals: still running\n");

  /* 5. Real-time signals queue, with their values, lowest number first. */
  install(SIGRTMIN + 3, rt_order, 0, 0);
  install(SIGRTMIN + 8, rt_order, 0, 0);
  block(SIG_BLOCK, SIGRTMIN + 3, SIGRTMIN + 8);
  sigqueue(getpid(), SIGRTMIN + 8, (union sigval){.sival_int = 800});
  sigqueue(getpid(), SIGRTMIN + 3, (union sigval){.sival_int = 301});
  sigqueue(getpid(), SIGRTMIN + 3, (union sigval){.sival_int = 302});
  kill(getpid(), SIGRTMIN + 3);
  block(SIG_UNBLOCK, SIGRTMIN + 3, SIGRTMIN + 8);
  printf("rt order:");
  for (int i = 0; i < norder; i++) printf(" %d", order[i]);
  printf("\n");

  /* 6. The alternate signal stack. */
  stack_t ss = {.ss_sp = altstack, .ss_flags = 0, .ss_size = sizeof altstack}, old;
  if (sigaltstack(&ss, &old) != 0) printf("sigaltstack failed: errno %d\n", errno);
  printf("old altstack flags=%d\n", old.ss_flags);
  install(SIGUSR2, alt_handler, SA_ONSTACK, 0);
  raise(SIGUSR2);
  stack_t now;
  sigaltstack(0, &now);
  printf("altstack: on it=%d flags inside=%d uc_stack=%s flags outside=%d\n", on_alt, alt_flags,
         uc_stack_ok ? "ok" : "wrong", now.ss_flags);
  ss.ss_size = MINSIGSTKSZ - 1;
  printf("too small: %d errno=%d\n", sigaltstack(&ss, 0), errno);

  /* 7. Synchronous signals: the handler moves the pc past the instruction. */
  install(SIGILL, skip_insn, 0, 0);
  __asm__ volatile(".word 0");
  printf("sigill: sig=%d code=%d addr=pc:%d\n", trap_sig, trap_code, trap_addr_ok);
  install(SIGTRAP, skip_insn, 0, 0);
  __asm__ volatile("ebreak");
  printf("sigtrap: sig=%d code=%d addr=pc:%d\n", trap_sig, trap_code, trap_addr_ok);

  /* 8. siglongjmp out of SIGSEGV, twice: the mask comes back each time. */
  install(SIGSEGV, segv_jump, 0, 0);
  for (int round = 1; round <= 2; round++) {
    if (sigsetjmp(jb, 1) == 0) {
      *(volatile int *)0 = round;
      printf("no fault?\n");
    } else {
      printf("segv %d: code=%d addr=%p segv blocked=%d\n", round, segv_code, segv_addr,
             blocked(SIGSEGV));
    }
  }
  char *ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sigsetjmp(jb, 1) == 0) {
    ro[8] = 1;
    printf("no fault?\n");
  } else {
    printf("segv read-only: code=%d addr=page+%ld\n", segv_code, (long)((char *)segv_addr - ro));
  }

  /* 9. sigtimedwait takes a blocked signal without its handler. */
  block(SIG_BLOCK, SIGUSR2, 0);
  raise(SIGUSR2);
  sigset_t w;
  sigemptyset(&w);
  sigaddset(&w, SIGUSR2);
  siginfo_t si;
  struct timespec zero = {0, 0};
  int got = sigtimedwait(&w, &si, &zero);
  printf("sigtimedwait: %d code=%d\n", got, si.si_code);
  got = sigtimedwait(&w, &si, &zero);
  printf("sigtimedwait again: %d errno=%d\n", got, errno);

  /* 10. sigsuspend returns EINTR after the handler, with the mask put back. */
  install(SIGUSR2, record, 0, 0);
  hits = 0;
  raise(SIGUSR2); /* still blocked from 9 */
  sigset_t none;
  sigemptyset(&none);
  int r = sigsuspend(&none);
  printf("sigsuspend: %d errno=%d hits=%d usr2 blocked=%d\n", r, errno, hits, blocked(SIGUSR2));

  /* 11. What the kernel refuses. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  printf("sigaction(SIGKILL): %d errno=%d\n", sigaction(SIGKILL, &sa, 0), errno);
  printf("sigaction(SIGSTOP): %d errno=%d\n", sigaction(SIGSTOP, &sa, 0), errno);
  printf("kill(self, 65): %d errno=%d\n", kill(getpid(), 65), errno);
  printf("kill(self, 0): %d\n", kill(getpid(), 0));
  errno = 0;
  printf("sigprocmask(7): %d errno=%d\n", sigprocmask(7, &none, 0), errno);
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = SA_SIGINFO | SA_RESTORER | SA_UNSUPPORTED;
  sigaction(SIGUSR2, &sa, 0);
  struct sigaction back;
  sigaction(SIGUSR2, 0, &back);
  printf("linux-only: unknown sa_flags cleared: siginfo=%d restorer=%d unsupported=%d\n",
         !!(back.sa_flags & SA_SIGINFO), !!(back.sa_flags & SA_RESTORER),
         !!(back.sa_flags & SA_UNSUPPORTED));
  printf("done\n");
  return 0;
}
