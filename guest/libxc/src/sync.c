/* sync.c: futex wrappers and the three-state futex mutex (see xc/sync.h).
 *
 * The atomics are written out as RV32A instructions so that the code shows
 * exactly what the hart must implement: LR/SC for compare-and-swap and
 * AMOSWAP for the unconditional exchange, both with acquire/release. */
#include <errno.h>
#include <xc/sync.h>

#include "internal.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

/* How many times a contended lock re-reads the word before sleeping. A
 * futex sleep costs a trap and a host Atomics.wait, so a short spin pays. */
#define SPIN_TRIES 64

/* Compare-and-swap: if *p == expect, store desire. Returns the old value. */
static inline int cas(volatile int *p, int expect, int desire) {
  int old, fail;
  __asm__ volatile(
      "1: lr.w.aqrl %0, (%2)\n"
      "   bne %0, %3, 2f\n"
      "   sc.w.aqrl %1, %4, (%2)\n"
      "   bnez %1, 1b\n"
      "2:\n"
      : "=&r"(old), "=&r"(fail)
      : "r"(p), "r"(expect), "r"(desire)
      : "memory");
  return old;
}

/* Atomic exchange. Returns the old value. */
static inline int swap(volatile int *p, int v) {
  int old;
  __asm__ volatile("amoswap.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
  return old;
}

int xc_futex_wait(volatile int *word, int expected) {
  return (int)__xc_ret(xc_syscall4(SYS_futex_time64, word, FUTEX_WAIT, expected, 0));
}

int xc_futex_wake(volatile int *word, int n) {
  return (int)__xc_ret(xc_syscall3(SYS_futex_time64, word, FUTEX_WAKE, n));
}

void xc_mutex_init(xc_mutex *m) {
  m->state = 0;
}

int xc_mutex_trylock(xc_mutex *m) {
  return cas(&m->state, 0, 1) == 0;
}

void xc_mutex_lock(xc_mutex *m) {
  int c = cas(&m->state, 0, 1);
  if (c == 0) return;
  for (int i = 0; i < SPIN_TRIES; i++) {
    if (m->state == 0 && (c = cas(&m->state, 0, 1)) == 0) return;
  }
  /* Mark the lock contended. Whoever takes it while it is marked keeps the
   * mark, so its unlock wakes the next sleeper. */
  if (c != 2) c = swap(&m->state, 2);
  while (c != 0) {
    xc_futex_wait(&m->state, 2); /* EAGAIN or a wakeup: look again */
    c = swap(&m->state, 2);
  }
}

void xc_mutex_unlock(xc_mutex *m) {
  if (swap(&m->state, 0) == 2) xc_futex_wake(&m->state, 1);
}
