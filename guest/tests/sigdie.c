/* sigdie MODE: die of a signal's default action (or survive it), to
 * compare exit statuses with qemu-riscv32. Prints what it is about to do. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void handler(int sig) {
  printf("handled %d\n", sig);
  fflush(stdout);
}

static void blockone(int sig) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(SIG_BLOCK, &s, 0);
}

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "";
  printf("sigdie %s\n", m);
  fflush(stdout);
  if (!strcmp(m, "term")) raise(SIGTERM);
  else if (!strcmp(m, "abrt")) raise(SIGABRT);
  else if (!strcmp(m, "usr1")) kill(getpid(), SIGUSR1);
  else if (!strcmp(m, "rt")) raise(SIGRTMIN + 8);
  else if (!strcmp(m, "kill")) raise(SIGKILL);
  else if (!strcmp(m, "segv-blocked")) {
    blockone(SIGSEGV);
    *(volatile int *)0 = 1;
  } else if (!strcmp(m, "segv-ignored")) {
    signal(SIGSEGV, SIG_IGN);
    *(volatile int *)0 = 1;
  } else if (!strcmp(m, "resethand")) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
  } else if (!strcmp(m, "badstack")) {
    /* An alternate stack the frame cannot be written to: SIGSEGV instead. */
    stack_t ss = {.ss_sp = (void *)0x1000, .ss_flags = 0, .ss_size = 65536};
    sigaltstack(&ss, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
  } else if (!strcmp(m, "blocked-term")) {
    blockone(SIGTERM);
    raise(SIGTERM);
    printf("blocked SIGTERM is pending, unblocking\n");
    fflush(stdout);
    sigprocmask(SIG_SETMASK, &(sigset_t){{0, 0}}, 0);
  } else {
    printf("usage: sigdie term|abrt|usr1|rt|kill|segv-blocked|segv-ignored|resethand|badstack|blocked-term\n");
    return 2;
  }
  printf("survived\n");
  return 0;
}
