/* signals: handlers and their siginfo, masks, pending sets, siglongjmp's mask, sigaltstack, queued RT signals. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "mtest.h"

static volatile sig_atomic_t hits, last_sig, last_code, last_value;
static volatile uintptr_t handler_sp;
static sigjmp_buf jump;

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	int here;
	handler_sp = (uintptr_t)&here;
	hits++;
	last_sig = sig;
	last_code = info->si_code;
	last_value = info->si_value.sival_int;
}

static void jump_out(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

static int blocked(int sig)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

int group_signals(void)
{
	struct sigaction sa = {0}, old;
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction installs a handler");
	CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_sigaction == on_signal, "sigaction reads it back");
	CHECK(raise(SIGUSR1) == 0 && hits == 1 && last_sig == SIGUSR1, "raise runs the handler");
	CHECK(last_code == SI_TKILL, "si_code is SI_TKILL for raise");

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0 && blocked(SIGUSR1), "SIG_BLOCK, and the mask reads back");
	raise(SIGUSR1);
	sigset_t pend;
	CHECK(hits == 1 && sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1), "a blocked signal stays pending");
	CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0 && hits == 2, "unblocking delivers it");
	CHECK(!blocked(SIGUSR1), "the mask is clear again");

	signal(SIGUSR2, SIG_IGN);
	CHECK(raise(SIGUSR2) == 0, "an ignored signal does nothing");

	/* siglongjmp out of a handler restores the mask sigsetjmp saved. */
	signal(SIGUSR2, jump_out);
	if (sigsetjmp(jump, 1) == 0) {
		raise(SIGUSR2);
		CHECK(0, "siglongjmp returned to sigsetjmp");
	} else {
		CHECK(!blocked(SIGUSR2), "siglongjmp restores the mask (SIGUSR2 unblocked)");
	}

	/* A handler with SA_ONSTACK runs on the alternate stack. */
	static char alt[16384];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0}, oss;
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	CHECK(sigaltstack(NULL, &oss) == 0 && oss.ss_sp == alt && oss.ss_size == sizeof alt, "sigaltstack reads back");
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	CHECK(handler_sp >= (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof alt, "the handler ran on it");

	/* A queued real-time signal carries its value. */
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	union sigval v = {.sival_int = 1234};
	CHECK(sigqueue(getpid(), SIGRTMIN + 1, v) == 0, "sigqueue");
	CHECK(last_sig == SIGRTMIN + 1 && last_value == 1234 && last_code == SI_QUEUE, "it arrives with its value");
	CHECK(SIGRTMAX == 64, "64 signals");
	errno = 0;
	CHECK(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL, "SIGKILL cannot be caught");
	return 0;
}
