/* futextest: the futex wait queue as Linux keeps it, printed line by line
 * so that xip and qemu-riscv32 (which passes futex to the host's kernel)
 * can be compared. No line depends on timing: before acting on sleepers
 * the program makes sure they sleep, by moving them with FUTEX_REQUEUE
 * (which only moves waiters that are queued) until all of them have moved.
 *
 *   futextest      REQUEUE moves waiters (a wake of the first word finds
 *                  nobody; only a wake of the second ends their sleep),
 *                  CMP_REQUEUE's compare and counts, a requeued waiter that
 *                  is signalled (EINTR) or killed leaves the queue it was
 *                  moved to, WAIT_BITSET/WAKE_BITSET matching, a wake count
 *                  of 0 waking one, WAKE_OP, timeouts, FUTEX_PRIVATE_FLAG
 *   futextest pi   FUTEX_LOCK_PI: -ESRCH for an owner that never existed
 *                  and for one that exited without releasing the word; a
 *                  robust list's release lets the next locker in with
 *                  FUTEX_OWNER_DIED; UNLOCK_PI hands the word to the
 *                  waiter; an owner that dies while a waiter sleeps hands
 *                  it over (with FUTEX_OWNER_DIED when its robust list
 *                  released it). qemu-riscv32 7.2 has no FUTEX_LOCK_PI
 *                  (ENOSYS), so these lines are checked against Linux's
 *                  documented answers instead.
 * Exits 0 after printing "done". */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYS_set_robust_list 99
#define SYS_sched_yield 124
#define SYS_clock_nanosleep_time64 407
#define SYS_futex_time64 422

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE 128
#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u
#define FUTEX_TID_MASK 0x3fffffffu

static long sys6(long nr, long a, long b, long c, long d, long e, long f) {
  register long a0 __asm__("a0") = a, a1 __asm__("a1") = b, a2 __asm__("a2") = c;
  register long a3 __asm__("a3") = d, a4 __asm__("a4") = e, a5 __asm__("a5") = f;
  register long a7 __asm__("a7") = nr;
  __asm__ volatile("ecall"
                   : "+r"(a0)
                   : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7)
                   : "memory");
  return a0;
}

static long futex(volatile unsigned *w, int op, long val, long val2, volatile unsigned *w2,
                  long val3) {
  return sys6(SYS_futex_time64, (long)w, op, val, val2, (long)w2, val3);
}

struct ts64 {
  long long sec, nsec;
};

static void nap_ms(int ms) {
  struct ts64 t = {0, (long long)ms * 1000000};
  sys6(SYS_clock_nanosleep_time64, 1 /* CLOCK_MONOTONIC */, 0, (long)&t, 0, 0, 0);
}

static const char *err(long r) {
  switch (r) {
    case 0: return "0";
    case -EAGAIN: return "EAGAIN";
    case -EINTR: return "EINTR";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -EINVAL: return "EINVAL";
    case -ESRCH: return "ESRCH";
    case -EDEADLK: return "EDEADLK";
    case -EPERM: return "EPERM";
    case -ENOSYS: return "ENOSYS";
  }
  static char b[32];
  snprintf(b, sizeof b, "%ld", r);
  return b;
}

/* Move every waiter of `from` to `to` until `n` have moved in all (each
 * REQUEUE moves only queued waiters, so this returns once all n sleep).
 * `flags` is FUTEX_PRIVATE or 0. Returns how many moved. */
static int gather(volatile unsigned *from, volatile unsigned *to, int n, int flags) {
  int moved = 0;
  for (int i = 0; i < 20000 && moved < n; i++) {
    long r = futex(from, FUTEX_REQUEUE | flags, 0, 0x7fffffff, to, 0);
    if (r > 0) moved += (int)r;
    else nap_ms(1);
  }
  return moved;
}

/* The same, then back to `word`: all n are asleep on it, in their order. */
static int asleep_on(volatile unsigned *word, volatile unsigned *scratch, int n, int flags) {
  int moved = gather(word, scratch, n, flags);
  long back = futex(scratch, FUTEX_REQUEUE | flags, 0, 0x7fffffff, word, 0);
  return moved == n && back == n ? n : -1;
}

static volatile unsigned f1, f2, scratch;

/* pthread_create, or end the program with a line that says why (a thread
 * this program cannot start would otherwise be joined as garbage). */
static void spawn(pthread_t *th, void *(*fn)(void *), void *arg) {
  int r = pthread_create(th, 0, fn, arg);
  if (r != 0) {
    printf("pthread_create failed: error %d\n", r);
    exit(1);
  }
}

struct waiter {
  volatile unsigned *word;
  unsigned expect;
  int op;
  unsigned bitset;
  long ret;
  volatile int tid;
  volatile int done;
  pthread_t th;
};

static void *wait_thread(void *p) {
  struct waiter *w = p;
  w->tid = gettid();
  w->ret = futex(w->word, w->op | FUTEX_PRIVATE, w->expect, 0, 0, w->bitset);
  __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
  return 0;
}

static void start(struct waiter *w, volatile unsigned *word, unsigned expect) {
  memset(w, 0, sizeof *w);
  w->word = word;
  w->expect = expect;
  w->op = FUTEX_WAIT;
  spawn(&w->th, wait_thread, w);
}

static int count_done(struct waiter *ws, int n) {
  int d = 0;
  for (int i = 0; i < n; i++) d += __atomic_load_n(&ws[i].done, __ATOMIC_SEQ_CST);
  return d;
}

/* Wait (bounded) until `want` of the n waiters have returned. */
static int wait_done(struct waiter *ws, int n, int want) {
  for (int i = 0; i < 5000 && count_done(ws, n) < want; i++) nap_ms(1);
  return count_done(ws, n);
}

static const char *all_zero(struct waiter *ws, int n) {
  for (int i = 0; i < n; i++) {
    if (ws[i].ret != 0) return err(ws[i].ret);
  }
  return "0";
}

static void requeue_moves(void) {
  struct waiter ws[3];
  f1 = f2 = 0;
  for (int i = 0; i < 3; i++) start(&ws[i], &f1, 0);
  printf("requeue: moved %d of 3 sleepers to the second word\n", gather(&f1, &f2, 3, FUTEX_PRIVATE));
  printf("requeue: a wake of the first word wakes %ld\n", futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE, 10, 0, 0, 0));
  nap_ms(30);
  printf("requeue: sleepers that returned meanwhile: %d\n", count_done(ws, 3));
  printf("requeue: a wake of 1 on the second word wakes %ld\n", futex(&f2, FUTEX_WAKE | FUTEX_PRIVATE, 1, 0, 0, 0));
  printf("requeue: returned: %d\n", wait_done(ws, 3, 1));
  printf("requeue: a wake of 10 on the second word wakes %ld\n", futex(&f2, FUTEX_WAKE | FUTEX_PRIVATE, 10, 0, 0, 0));
  for (int i = 0; i < 3; i++) pthread_join(ws[i].th, 0);
  printf("requeue: every wait returned %s\n", all_zero(ws, 3));
}

static void cmp_requeue(void) {
  struct waiter ws[3];
  f1 = 5, f2 = 0;
  for (int i = 0; i < 3; i++) start(&ws[i], &f1, 5);
  printf("cmp_requeue: %d asleep on the first word\n", asleep_on(&f1, &scratch, 3, FUTEX_PRIVATE));
  printf("cmp_requeue: with val3 6 (the word is 5): %s\n",
         err(futex(&f1, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE, 1, 1, &f2, 6)));
  printf("cmp_requeue: wake 1, move 1: returns %ld (woken + moved)\n",
         futex(&f1, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE, 1, 1, &f2, 5));
  printf("cmp_requeue: returned: %d\n", wait_done(ws, 3, 1));
  printf("cmp_requeue: left on the first word: %ld\n", futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE, 10, 0, 0, 0));
  printf("cmp_requeue: moved to the second word: %ld\n", futex(&f2, FUTEX_WAKE | FUTEX_PRIVATE, 10, 0, 0, 0));
  for (int i = 0; i < 3; i++) pthread_join(ws[i].th, 0);
  printf("cmp_requeue: every wait returned %s\n", all_zero(ws, 3));
  printf("cmp_requeue: negative counts: %s %s\n",
         err(futex(&f1, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE, -1, 1, &f2, 5)),
         err(futex(&f1, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE, 1, -1, &f2, 5)));
}

static volatile int usr1_hits;
static void on_usr1(int sig) {
  (void)sig;
  usr1_hits++;
}

static void requeued_then_signalled(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1; /* no SA_RESTART: the wait fails with EINTR */
  sigaction(SIGUSR1, &sa, 0);
  struct waiter w;
  f1 = f2 = 0;
  start(&w, &f1, 0);
  printf("signalled: moved %d\n", gather(&f1, &f2, 1, FUTEX_PRIVATE));
  tgkill(getpid(), w.tid, SIGUSR1);
  pthread_join(w.th, 0);
  printf("signalled: the moved wait returned %s, handler ran %d time(s)\n", err(w.ret), usr1_hits);
  printf("signalled: a wake of the second word then wakes %ld\n",
         futex(&f2, FUTEX_WAKE | FUTEX_PRIVATE, 10, 0, 0, 0));
}

static void requeued_then_killed(void) {
  volatile unsigned *shm = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) {
    printf("killed: mmap failed\n");
    return;
  }
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    futex(&shm[0], FUTEX_WAIT, 0, 0, 0, 0); /* shared: no FUTEX_PRIVATE */
    _exit(3);
  }
  printf("killed: moved %d to a word shared with the child\n", gather(&shm[0], &shm[1], 1, 0));
  kill(c, SIGKILL);
  int st = 0;
  waitpid(c, &st, 0);
  printf("killed: child %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "died of SIGKILL" : "WRONG");
  printf("killed: a wake of the second word then wakes %ld\n", futex(&shm[1], FUTEX_WAKE, 10, 0, 0, 0));
  munmap((void *)shm, 4096);
}

static void bitsets(void) {
  struct waiter ws[2];
  f1 = 0;
  for (int i = 0; i < 2; i++) {
    memset(&ws[i], 0, sizeof ws[i]);
    ws[i].word = &f1;
    ws[i].op = FUTEX_WAIT_BITSET;
    ws[i].bitset = 1u << i;
    spawn(&ws[i].th, wait_thread, &ws[i]);
  }
  printf("bitset: %d asleep\n", asleep_on(&f1, &scratch, 2, FUTEX_PRIVATE));
  printf("bitset: wake bitset 4 wakes %ld\n", futex(&f1, FUTEX_WAKE_BITSET | FUTEX_PRIVATE, 10, 0, 0, 4));
  printf("bitset: wake bitset 2 wakes %ld\n", futex(&f1, FUTEX_WAKE_BITSET | FUTEX_PRIVATE, 10, 0, 0, 2));
  printf("bitset: returned: %d, the second: %d\n", wait_done(ws, 2, 1), ws[1].done);
  printf("bitset: wake bitset 0: %s\n", err(futex(&f1, FUTEX_WAKE_BITSET | FUTEX_PRIVATE, 10, 0, 0, 0)));
  printf("bitset: wake bitset 3 wakes %ld\n", futex(&f1, FUTEX_WAKE_BITSET | FUTEX_PRIVATE, 10, 0, 0, 3));
  for (int i = 0; i < 2; i++) pthread_join(ws[i].th, 0);
  printf("bitset: every wait returned %s\n", all_zero(ws, 2));
}

static void wake_counts(void) {
  struct waiter ws[2];
  f1 = 0;
  for (int i = 0; i < 2; i++) start(&ws[i], &f1, 0);
  printf("wake: %d asleep\n", asleep_on(&f1, &scratch, 2, FUTEX_PRIVATE));
  printf("wake: a count of 0 wakes %ld (Linux wakes one)\n", futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE, 0, 0, 0, 0));
  printf("wake: then a count of 10 wakes %ld\n", futex(&f1, FUTEX_WAKE | FUTEX_PRIVATE, 10, 0, 0, 0));
  for (int i = 0; i < 2; i++) pthread_join(ws[i].th, 0);
  printf("wake: every wait returned %s\n", all_zero(ws, 2));
}

/* FUTEX_OP(op, oparg, cmp, cmparg) */
#define FUTEX_OP(op, oparg, cmp, cmparg) \
  ((((op) & 15) << 28) | (((cmp) & 15) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

static void wake_op(void) {
  struct waiter a, b;
  f1 = 0, f2 = 0;
  start(&a, &f1, 0);
  start(&b, &f2, 0);
  int n = asleep_on(&f1, &scratch, 1, FUTEX_PRIVATE) + asleep_on(&f2, &scratch, 1, FUTEX_PRIVATE);
  printf("wake_op: %d asleep\n", n);
  /* f2 = 1; wake 1 on f1; and 1 on f2 if the old f2 was 0. */
  printf("wake_op: SET 1 if old == 0 wakes %ld\n",
         futex(&f1, FUTEX_WAKE_OP | FUTEX_PRIVATE, 1, 1, &f2, FUTEX_OP(0, 1, 0, 0)));
  pthread_join(a.th, 0);
  pthread_join(b.th, 0);
  printf("wake_op: second word %u, waits returned %s %s\n", f2, err(a.ret), err(b.ret));
}

static void timeouts(void) {
  struct ts64 t = {0, 20 * 1000000};
  f1 = 0;
  printf("timeout: relative 20 ms: %s\n", err(futex(&f1, FUTEX_WAIT | FUTEX_PRIVATE, 0, (long)&t, 0, 0)));
  printf("timeout: the word differs: %s\n", err(futex(&f1, FUTEX_WAIT | FUTEX_PRIVATE, 1, (long)&t, 0, 0)));
  struct ts64 past = {0, 1};
  printf("timeout: WAIT_BITSET with an absolute time long past: %s\n",
         err(futex(&f1, FUTEX_WAIT_BITSET | FUTEX_PRIVATE, 0, (long)&past, 0, -1)));
}

/* ---- PI ---- */

struct robust_list {
  struct robust_list *next;
};
struct robust_list_head {
  struct robust_list list;
  long futex_offset;
  struct robust_list *list_op_pending;
};

static volatile unsigned pi_word;
static struct robust_list pi_entry; /* the robust entry whose futex is pi_word */

struct owner {
  int robust;        /* register pi_word on a robust list before taking it */
  int wait_waiters;  /* hold it until a waiter has set FUTEX_WAITERS */
  long lock;
  volatile int tid;
  int named;         /* (a waiter) the word named it when its lock returned */
};

static void *owner_thread(void *p) {
  struct owner *o = p;
  static struct robust_list_head head;
  o->tid = gettid();
  if (o->robust) {
    head.list.next = (struct robust_list *)((long)&pi_entry | 1); /* bit 0: a PI futex */
    pi_entry.next = &head.list;
    head.futex_offset = (long)((volatile char *)&pi_word - (char *)&pi_entry);
    head.list_op_pending = 0;
    sys6(SYS_set_robust_list, (long)&head, sizeof head, 0, 0, 0, 0);
  }
  o->lock = futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  if (o->wait_waiters) {
    for (int i = 0; i < 5000 && !(pi_word & FUTEX_WAITERS); i++) nap_ms(1);
    nap_ms(10); /* the waiter is queued once FUTEX_WAITERS shows; let it sleep */
  }
  return 0; /* exits holding pi_word */
}

static void *pi_waiter(void *p) {
  struct owner *o = p;
  o->tid = gettid();
  o->lock = futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  unsigned w = pi_word;
  o->named = w == ((unsigned)o->tid | FUTEX_WAITERS); /* as the hand-over left it */
  futex(&pi_word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  return 0;
}

/* The word as "owner WHO [WAITERS] [OWNER_DIED]": WHO is none, me (the
 * calling thread), dead (the tid `dead`) or other. */
static const char *pi_state(unsigned w, int dead) {
  static char b[96];
  unsigned owner = w & FUTEX_TID_MASK;
  const char *who = owner == 0                   ? "none"
                    : owner == (unsigned)gettid() ? "me"
                    : owner == (unsigned)dead     ? "dead"
                                                  : "other";
  snprintf(b, sizeof b, "owner %s%s%s", who,
           w & FUTEX_WAITERS ? " WAITERS" : "", w & FUTEX_OWNER_DIED ? " OWNER_DIED" : "");
  return b;
}

static void pi_owner_exits(int robust, int with_waiter) {
  struct owner o = {robust, with_waiter, 0, 0, 0};
  pthread_t th;
  pi_word = 0;
  const char *how = robust ? "robust" : "plain";
  spawn(&th, owner_thread, &o);
  if (with_waiter) {
    for (int i = 0; i < 5000 && (pi_word & FUTEX_TID_MASK) == 0; i++) nap_ms(1);
    long r = futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
    pthread_join(th, 0);
    printf("pi %s owner exits under a sleeping waiter: lock %s, %s\n", how, err(r), pi_state(pi_word, o.tid));
  } else {
    pthread_join(th, 0);
    printf("pi %s owner exited holding it: %s\n", how, pi_state(pi_word, o.tid));
    long r = futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
    printf("pi %s: a new lock: %s, %s\n", how, err(r), pi_state(pi_word, o.tid));
  }
  if ((pi_word & FUTEX_TID_MASK) == (unsigned)gettid()) {
    printf("pi %s: unlock %s\n", how, err(futex(&pi_word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0)));
  }
}

static int pi(void) {
  pi_word = 0x3fff0000; /* no task has this tid */
  printf("pi: owner never existed: lock %s, trylock %s\n",
         err(futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0)),
         err(futex(&pi_word, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0)));
  pi_word = 0;
  long r = futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  printf("pi: lock %s, %s\n", err(r), pi_state(pi_word, 0));
  r = futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  long u = futex(&pi_word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  unsigned after = pi_word;
  long u2 = futex(&pi_word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  printf("pi: again %s; unlock %s, word %u; unlock again %s\n", err(r), err(u), after, err(u2));

  /* UNLOCK_PI hands the word to the sleeping waiter. */
  struct owner w = {0, 0, 0, 0, 0};
  pthread_t th;
  futex(&pi_word, FUTEX_LOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0);
  spawn(&th, pi_waiter, &w);
  for (int i = 0; i < 5000 && !(pi_word & FUTEX_WAITERS); i++) nap_ms(1);
  printf("pi: a waiter marked the word: %s\n", pi_state(pi_word, 0));
  printf("pi: unlock with a waiter: %s\n", err(futex(&pi_word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE, 0, 0, 0, 0)));
  pthread_join(th, 0);
  printf("pi: the waiter's lock %s, handed over by name: %s; word after its unlock %u\n",
         err(w.lock), w.named ? "yes" : "no", pi_word);

  pi_owner_exits(0, 0);
  pi_owner_exits(1, 0);
  pi_owner_exits(0, 1);
  pi_owner_exits(1, 1);
  printf("done\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "pi")) return pi();
  requeue_moves();
  cmp_requeue();
  requeued_then_signalled();
  requeued_then_killed();
  bitsets();
  wake_counts();
  wake_op();
  timeouts();
  printf("done\n");
  return 0;
}
