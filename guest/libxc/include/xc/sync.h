/* xc/sync.h: futex and a futex-based mutex that works between processes
 * when it lives in a MAP_SHARED page.
 *
 * The mutex word has three states: 0 unlocked, 1 locked, 2 locked and
 * someone may be asleep in futex wait. An unlock that finds 2 wakes one
 * sleeper. The futex calls are not FUTEX_PRIVATE, so the word may sit in a
 * shared file mapping used by several processes. A zero-filled word is an
 * unlocked mutex. */
#ifndef XC_SYNC_H
#define XC_SYNC_H

typedef struct {
  volatile int state;
} xc_mutex;

#define XC_MUTEX_INIT {0}

void xc_mutex_init(xc_mutex *m);
void xc_mutex_lock(xc_mutex *m);
int xc_mutex_trylock(xc_mutex *m); /* 1 if taken, 0 if busy */
void xc_mutex_unlock(xc_mutex *m);

/* futex(FUTEX_WAIT): sleep while *word == expected. 0, or -1 with errno
 * (EAGAIN when *word != expected). */
int xc_futex_wait(volatile int *word, int expected);
/* futex(FUTEX_WAKE): wake up to n sleepers; returns how many woke, or -1. */
int xc_futex_wake(volatile int *word, int n);

#endif
