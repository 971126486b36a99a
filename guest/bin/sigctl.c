/* sigctl MODE: a process for the Machine-level signal tests to poke from
 * outside (machine.kill), each mode printing "ready" once it waits:
 *
 *   suspend       block SIGUSR1, print ready, sigsuspend until it arrives;
 *                 print "usr1" and exit 0 (stop/continue tests send SIGSTOP,
 *                 SIGUSR1, SIGCONT in turn)
 *   catch-term    a SIGTERM handler that prints "caught SIGTERM", exit 3
 *   futex-intr    SIGUSR1 handler without SA_RESTART; futex wait: EINTR
 *   futex-restart SIGUSR1 handler with SA_RESTART that changes the futex
 *                 word; the wait restarts and sees it: EAGAIN
 *   spin          print ready, then count forever (stop it, continue it,
 *                 kill it) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xc/sync.h>

static volatile int word, got;

static void on_usr1(int sig) {
  got = sig;
  word = 1;
}

static void on_term(int sig) {
  printf("caught SIGTERM (%d)\n", sig);
  fflush(stdout);
  _exit(3);
}

static void install(int sig, void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigaction(sig, &sa, 0);
}

static void ready(void) {
  printf("ready\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "";
  if (!strcmp(m, "suspend")) {
    install(SIGUSR1, on_usr1, 0);
    sigset_t s, none;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, 0);
    ready();
    sigemptyset(&none);
    while (!got) sigsuspend(&none);
    printf("usr1\n");
    return 0;
  }
  if (!strcmp(m, "catch-term")) {
    install(SIGTERM, on_term, 0);
    ready();
    for (;;) xc_futex_wait(&word, 0);
  }
  if (!strcmp(m, "futex-intr") || !strcmp(m, "futex-restart")) {
    install(SIGUSR1, on_usr1, m[6] == 'r' ? SA_RESTART : 0);
    ready();
    int r = xc_futex_wait(&word, 0);
    printf("futex: %d errno=%d usr1=%d\n", r, r < 0 ? errno : 0, got);
    return 0;
  }
  if (!strcmp(m, "spin")) {
    ready();
    for (volatile unsigned long n = 0;; n++) {
    }
  }
  printf("usage: sigctl suspend|catch-term|futex-intr|futex-restart|spin\n");
  return 2;
}
