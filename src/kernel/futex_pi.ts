/**
 * The priority-inheritance futex commands, FUTEX_LOCK_PI (and LOCK_PI2),
 * TRYLOCK_PI and UNLOCK_PI (Linux's kernel/futex/pi.c), without the
 * priorities: xip has no scheduler classes or priorities to inherit
 * (docs/ARCHITECTURE.md §10 lists this departure), so what is kept is the
 * user-visible protocol of the word (owner tid | FUTEX_WAITERS |
 * FUTEX_OWNER_DIED) and who gets the lock:
 *
 * - a waiter queues in the futex queue (futex_q.ts) with FUTEXQ_PI, oldest
 *   first; UNLOCK_PI hands the word straight to the oldest waiter
 *   (`tid | FUTEX_WAITERS`, as wake_futex_pi), which returns owning it;
 * - a word naming an owner that is not a live task gives -ESRCH, as
 *   attach_to_pi_owner does when the owner never existed or exited
 *   without its robust list releasing the word; while that owner is still
 *   exiting, the caller waits for the exit to finish and looks again
 *   (Linux's -EBUSY and wait_for_owner_exiting);
 * - when the owner exits while waiters sleep, the oldest takes the word
 *   over with FUTEX_OWNER_DIED (Linux's exit_pi_state_list leaves the
 *   pi_state without an owner, and fixup_pi_state_owner then sets the bit
 *   for the waiter that gets the rt_mutex), whether or not a robust list
 *   released it. The robust list's release hands over (futexDeath in
 *   futex_ops.ts), then the exit hands over what the task still owns
 *   (futexPiExit); a waiter also looks at its owner between sleep slices,
 *   for an owner that went without either. Not done: Linux also hands
 *   over at execve (futex_exec_release); here an owner that execs keeps
 *   its PI futexes until it exits.
 *
 * @module
 */

import { EAGAIN, EDEADLK, EPERM, ESRCH, ETIMEDOUT } from "../abi/errno.ts";
import { FUTEXQ_OWNER, FUTEXQ_PI, FUTEXQ_WAITING } from "../abi/layout/proc.ts";
import { ERESTARTNOINTR, ERESTARTSYS } from "../abi/signal.ts";
import type { Memory } from "../hw/memory.ts";
import { physWords } from "../mm/pgtable.ts";
import { futexPhysWord } from "./futex.ts";
import { FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS } from "./futex_ops.ts";
import {
  FUTEX_BITSET_MATCH_ANY,
  futexEnqueue,
  futexIsPi,
  futexLockBucket,
  futexQueued,
  futexSleep,
  futexUnlockBucket,
  futexUnqueue,
  futexWakeEntry,
} from "./futex_q.ts";
import { PROC_EXITING, PROC_RUNNING, procGet, procSet } from "./proc.ts";
import type { Task } from "./task.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";

/** How often a PI waiter looks whether its owner is gone, and an exiting owner is looked at again (ms). */
const PI_OWNER_POLL_MS = 20;

/** piTake's verdicts besides 0 and an errno: queue and sleep; the owner is exiting, look again. */
const PI_QUEUE = 1;
const PI_RETRY = 2;

/** What became of the task with guest tid `tid`: running, exiting (robust list not yet walked), or gone. */
function ownerState(mem: Memory, tid: number): "alive" | "exiting" | "gone" {
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    if ((procGet(mem, s, "pid") & FUTEX_TID_MASK) !== tid) continue;
    const st = procGet(mem, s, "state");
    if (st === PROC_RUNNING) return "alive";
    if (st === PROC_EXITING) return "exiting";
  }
  return "gone";
}

/** The PI waiters queued on the futex at physical word `w`, oldest first. Entry: its bucket lock held. */
const piWaiters = (mem: Memory, w: number): TaskSlot[] =>
  futexQueued(mem, w + 1).filter((s) => futexIsPi(mem, s));

/**
 * Give the PI futex at physical word `w`, which holds `cur`, to its oldest
 * queued waiter: the word becomes its tid | FUTEX_WAITERS, with
 * FUTEX_OWNER_DIED when `ownerDied` (Linux's fixup_pi_state_owner sets it
 * for a pi_state whose owner exited; wake_futex_pi, an unlock, clears
 * it), and the waiter wakes owning it. Entry: the bucket lock held.
 *
 * @returns whether a waiter took it (false: nobody queued, or the word
 *   changed under the compare-and-exchange)
 */
export function futexPiHandOver(mem: Memory, w: number, cur: number, ownerDied: boolean): boolean {
  const q = piWaiters(mem, w);
  if (q.length === 0) return false;
  const top = q[0]!;
  const died = ownerDied ? FUTEX_OWNER_DIED : 0;
  const nv = (procGet(mem, top, "pid") & FUTEX_TID_MASK) | FUTEX_WAITERS | died;
  if (Atomics.compareExchange(physWords(mem), w, cur, nv) !== cur) return false;
  futexWakeEntry(mem, top, FUTEXQ_OWNER);
  return true;
}

/**
 * One attempt to take the PI futex at physical word `w` for `t` (Linux's
 * futex_lock_pi_atomic and attach_to_pi_owner). Entry: the bucket lock
 * held.
 *
 * @returns 0 (taken), PI_QUEUE (owned by a live task: FUTEX_WAITERS is set,
 *   queue and sleep), PI_RETRY (the owner is exiting), -EDEADLK, -EAGAIN
 *   (trylock, owned), -ESRCH (the owner is no live task)
 */
function piTake(t: Task, w: number, trylock: boolean): number {
  const mem = t.mem, p32 = physWords(mem);
  const me = t.pid & FUTEX_TID_MASK;
  for (;;) {
    const v = Atomics.load(p32, w);
    const owner = v & FUTEX_TID_MASK;
    if (owner === me) return -EDEADLK;
    if (piWaiters(mem, w).length > 0) {
      // Waiters are queued (Linux: a pi_state exists): an owner that is gone passes it to the oldest.
      if ((owner === 0 || ownerState(mem, owner) === "gone") && futexPiHandOver(mem, w, v, true)) {
        continue;
      }
    } else if (owner === 0) {
      // Unowned (released by a dead owner's robust list, or never taken): take it, OWNER_DIED kept.
      if (Atomics.compareExchange(p32, w, v, (v & FUTEX_OWNER_DIED) | me) === v) return 0;
      continue;
    }
    // FUTEX_WAITERS before looking at the owner, a trylock's too, and it stays even when that
    // fails (futex_lock_pi_atomic sets it, then attach_to_pi_owner).
    if ((v & FUTEX_WAITERS) === 0 && Atomics.compareExchange(p32, w, v, v | FUTEX_WAITERS) !== v) {
      continue;
    }
    const state = ownerState(mem, owner);
    // handle_exit_race: the owner exited without its robust list releasing the word, or never was.
    if (state === "gone") return -ESRCH;
    if (state === "exiting") return PI_RETRY;
    return trylock ? -EAGAIN : PI_QUEUE;
  }
}

/**
 * Sleep queued on the PI futex at physical word `w` until handed it, the
 * deadline, or a signal; between slices, a waiter whose owner is gone
 * passes the word to the oldest waiter (exit_pi_state_list's hand-over).
 * Entry: no lock held; the task is queued.
 *
 * @returns as futexSleep
 */
function piSleep(t: Task, w: number, deadline: number): number {
  const mem = t.mem, p32 = physWords(mem);
  for (;;) {
    const r = futexSleep(mem, t.slot, Math.min(deadline, performance.now() + PI_OWNER_POLL_MS));
    if (r !== -ETIMEDOUT || performance.now() >= deadline) return r;
    futexLockBucket(mem, w + 1);
    try {
      const queued = procGet(mem, t.slot, "futexKey") === w + 1 &&
        procGet(mem, t.slot, "futexWake") === FUTEXQ_WAITING;
      const v = Atomics.load(p32, w);
      const owner = v & FUTEX_TID_MASK;
      if (queued && (owner === 0 || ownerState(mem, owner) === "gone")) {
        futexPiHandOver(mem, w, v, true);
      }
    } finally {
      futexUnlockBucket(mem, w + 1);
    }
  }
}

/**
 * FUTEX_LOCK_PI / FUTEX_TRYLOCK_PI: take the PI futex at `va` for the
 * calling thread, sleeping (not for a trylock) while a live task owns it,
 * until the owner hands it over at its unlock or `deadline`
 * (performance.now() time) passes.
 *
 * Entry: no lock held (the task is in kernel mode). Takes and drops
 * mmap_lock for reading to find the word (futexPhysWord), then the
 * bucket lock to look at the word and queue; it sleeps, in killable
 * slices, holding no lock.
 *
 * @returns 0 (the caller owns it: FUTEX_OWNER_DIED in the word says a
 *   previous owner died holding it), or -EDEADLK (the caller owns it
 *   already), -EAGAIN (trylock, owned), -ESRCH (the owner is no live task
 *   and did not release it), -ETIMEDOUT, -ERESTARTNOINTR (a signal: the
 *   call restarts after the handler, as Linux's), -EFAULT, -EINVAL
 */
export function futexLockPi(t: Task, va: number, trylock: boolean, deadline: number): number {
  const mem = t.mem;
  const w = futexPhysWord(mem, t.mm, va, true);
  if (w < 0) return w;
  const key = w + 1;
  for (;;) {
    let verdict: number;
    futexLockBucket(mem, key);
    try {
      verdict = piTake(t, w, trylock);
      if (verdict === PI_QUEUE) futexEnqueue(mem, t.slot, key, FUTEX_BITSET_MATCH_ANY, FUTEXQ_PI);
    } finally {
      futexUnlockBucket(mem, key);
    }
    if (verdict === PI_RETRY) {
      // Linux waits for the owner's exit to finish (wait_for_owner_exiting), then looks again.
      procSet(mem, t.slot, "futexWake", FUTEXQ_WAITING); // not queued: only a signal ends this nap
      const r = futexSleep(mem, t.slot, Math.min(deadline, performance.now() + 1));
      if (r === -ERESTARTSYS) return -ERESTARTNOINTR;
      if (performance.now() >= deadline) return -ETIMEDOUT;
      continue;
    }
    if (verdict !== PI_QUEUE) return verdict;
    procSet(mem, t.slot, "futexWord", key);
    let r = 0, how = FUTEXQ_WAITING;
    try {
      r = piSleep(t, w, deadline);
    } finally {
      how = futexUnqueue(mem, t.slot);
      procSet(mem, t.slot, "futexWord", 0);
    }
    if (how === FUTEXQ_OWNER) return 0;
    if (r === -ETIMEDOUT) return -ETIMEDOUT;
    if (r === -ERESTARTSYS) return -ERESTARTNOINTR;
  }
}

/**
 * Task `tid` (a guest tid) is exiting: every PI futex it still owns that
 * has queued waiters goes to its oldest waiter, with FUTEX_OWNER_DIED
 * (Linux's exit_pi_state_list; the futexes on its robust list were handed
 * over already, futexDeath). Waiters would notice the dead owner by
 * themselves within a sleep slice; this hands over at the exit. Entry: no
 * lock held; the task's robust list has been walked.
 */
export function futexPiExit(mem: Memory, tid: number): void {
  const p32 = physWords(mem);
  const owner = tid & FUTEX_TID_MASK;
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    const key = procGet(mem, s, "futexKey");
    if (key === 0 || !futexIsPi(mem, s)) continue;
    if ((Atomics.load(p32, key - 1) & FUTEX_TID_MASK) !== owner) continue;
    futexLockBucket(mem, key);
    try {
      const v = Atomics.load(p32, key - 1);
      if ((v & FUTEX_TID_MASK) === owner) futexPiHandOver(mem, key - 1, v, true);
    } finally {
      futexUnlockBucket(mem, key);
    }
  }
}

/**
 * FUTEX_UNLOCK_PI: release the PI futex at `va`, which the caller owns:
 * the oldest waiter gets it (the word becomes its tid | FUTEX_WAITERS, as
 * wake_futex_pi), or with none the word becomes 0. Entry: no lock held;
 * takes and drops mmap_lock for reading to find the word (futexPhysWord),
 * then the bucket lock.
 *
 * @returns 0, or -EPERM (not the owner), -EFAULT, -EINVAL
 */
export function futexUnlockPi(t: Task, va: number): number {
  const mem = t.mem;
  const w = futexPhysWord(mem, t.mm, va, true);
  if (w < 0) return w;
  const p32 = physWords(mem);
  futexLockBucket(mem, w + 1);
  try {
    for (;;) {
      const v = Atomics.load(p32, w);
      if ((v & FUTEX_TID_MASK) !== (t.pid & FUTEX_TID_MASK)) return -EPERM;
      if (piWaiters(mem, w).length > 0) {
        if (futexPiHandOver(mem, w, v, false)) return 0;
        continue;
      }
      if (Atomics.compareExchange(p32, w, v, 0) === v) return 0;
    }
  } finally {
    futexUnlockBucket(mem, w + 1);
  }
}
