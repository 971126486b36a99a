/**
 * The futex operations beyond WAIT and WAKE that thread libraries use
 * (Linux's kernel/futex/requeue.c and waitwake.c): REQUEUE, CMP_REQUEUE,
 * WAKE_OP and the bitset variants, with the PI lock ops in futex_pi.ts,
 * and robust lists.
 *
 * REQUEUE moves sleepers from one futex queue to another (futex_q.ts):
 * up to nr_wake are woken, up to nr_requeue more are moved, and the moved
 * ones wake only on a wake of the second futex, as in Linux. Bitsets are
 * matched.
 *
 * Robust lists (set_robust_list): when a thread exits or execs, every
 * futex on its list that it still owns gets FUTEX_OWNER_DIED and one
 * waiter is woken (Linux's exit_robust_list); a PI futex goes to its
 * oldest waiter, who sees FUTEX_OWNER_DIED in the word (futex_pi.ts). So a
 * robust mutex held by a dead thread is reported as EOWNERDEAD instead of
 * blocking forever.
 *
 * @module
 */

import { EAGAIN, EINVAL, ENOSYS } from "../abi/errno.ts";
import { asVirt, type MmId, type TaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { TASK_SIZE } from "../mm/mm.ts";
import { physWords } from "../mm/pgtable.ts";
import { copyFromUser } from "../mm/uaccess.ts";
import { futexPhysWord } from "./futex.ts";
import { futexLockPi, futexPiHandOver, futexUnlockPi } from "./futex_pi.ts";
import {
  FUTEX_BITSET_MATCH_ANY,
  futexLockBucket,
  futexLockTwo,
  futexRequeueLocked,
  futexUnlockBucket,
  futexWakeLocked,
} from "./futex_q.ts";
import { procGet, procSet } from "./proc.ts";
import type { Task } from "./task.ts";

export const FUTEX_REQUEUE = 3;
export const FUTEX_CMP_REQUEUE = 4;
export const FUTEX_WAKE_OP = 5;
export const FUTEX_LOCK_PI = 6;
export const FUTEX_UNLOCK_PI = 7;
export const FUTEX_TRYLOCK_PI = 8;
export const FUTEX_WAIT_BITSET = 9;
export const FUTEX_WAKE_BITSET = 10;
export const FUTEX_LOCK_PI2 = 13;

/** The PI/robust word: owner tid, and two flag bits (uapi/linux/futex.h). */
export const FUTEX_WAITERS = 0x8000_0000 | 0;
export const FUTEX_OWNER_DIED = 0x4000_0000;
export const FUTEX_TID_MASK = 0x3fff_ffff;

/** Bytes of struct robust_list_head on riscv32: next, futex_offset, list_op_pending. */
export const ROBUST_LIST_HEAD_BYTES = 12;
/** Most robust-list entries walked (Linux's ROBUST_LIST_LIMIT), against a looping list. */
export const ROBUST_LIST_LIMIT = 2048;

/**
 * FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wake `nrWake` waiters on `va` and move
 * up to `nrRequeue` more onto the queue of `va2` (Linux's futex_requeue).
 * CMP_REQUEUE first checks, under both bucket locks, that `va` still holds
 * `cmp`.
 *
 * Entry: no lock held. Takes and drops mmap_lock for reading once per word
 * (futexPhysWord), then both buckets' locks for the compare and the moves.
 *
 * @returns waiters woken plus waiters moved, or -EAGAIN (CMP: the word
 *   changed), -EINVAL (a negative count, a PI waiter on `va`), -EFAULT
 */
export function futexRequeue(
  t: Task,
  va: number,
  nrWake: number,
  nrRequeue: number,
  va2: number,
  cmp: number | null,
): number {
  if (nrWake < 0 || nrRequeue < 0) return -EINVAL;
  const w = futexPhysWord(t.mem, t.mm, va);
  if (w < 0) return w;
  const w2 = futexPhysWord(t.mem, t.mm, va2);
  if (w2 < 0) return w2;
  const unlock = futexLockTwo(t.mem, w + 1, w2 + 1);
  try {
    if (cmp !== null && Atomics.load(physWords(t.mem), w) !== (cmp | 0)) return -EAGAIN;
    return futexRequeueLocked(t.mem, w + 1, w2 + 1, nrWake, nrRequeue);
  } finally {
    unlock();
  }
}

/** The FUTEX_WAKE_OP arithmetic on the old value (uapi FUTEX_OP_*). */
function wakeOpApply(old: number, op: number, arg: number): number | null {
  switch (op) {
    case 0: // SET
      return arg;
    case 1: // ADD
      return (old + arg) | 0;
    case 2: // OR
      return old | arg;
    case 3: // ANDN
      return old & ~arg;
    case 4: // XOR
      return old ^ arg;
    default:
      return null;
  }
}

function wakeOpCompare(old: number, cmp: number, arg: number): boolean | null {
  switch (cmp) {
    case 0:
      return old === arg;
    case 1:
      return old !== arg;
    case 2:
      return old < arg;
    case 3:
      return old <= arg;
    case 4:
      return old > arg;
    case 5:
      return old >= arg;
    default:
      return null;
  }
}

/** Sign-extend a 12-bit field. */
const sext12 = (v: number): number => (v << 20) >> 20;

/**
 * FUTEX_WAKE_OP: atomically apply the operation encoded in `encoded` to the
 * word at `va2`, wake `nr` waiters on `va`, and if the old value of `va2`
 * passes the encoded comparison, wake `nr2` waiters on `va2`.
 *
 * Entry: no lock held. Takes and drops mmap_lock for reading once per word
 * (futexPhysWord, `va2` faulted in for writing), then both buckets' locks
 * for the operation (a compareExchange loop) and the wakes, as Linux's
 * futex_wake_op holds both hash buckets.
 *
 * @returns waiters woken (both words), or -ENOSYS (an unknown op, before
 *   anything changes; an unknown comparison, after the op was applied: both
 *   as Linux), -EFAULT, -EINVAL (also a PI waiter on either word)
 */
export function futexWakeOp(
  t: Task,
  va: number,
  nr: number,
  nr2: number,
  va2: number,
  encoded: number,
): number {
  const op = (encoded >>> 28) & 7;
  const shift = (encoded >>> 28) & 8;
  const cmp = (encoded >>> 24) & 15;
  let oparg = sext12(encoded >>> 12);
  const cmparg = sext12(encoded);
  // A shift out of range is masked, not refused (Linux warns and masks).
  if (shift !== 0) oparg = 1 << (oparg & 31);
  if (wakeOpApply(0, op, oparg) === null) return -ENOSYS;
  const w = futexPhysWord(t.mem, t.mm, va);
  if (w < 0) return w;
  const w2 = futexPhysWord(t.mem, t.mm, va2, true);
  if (w2 < 0) return w2;
  const p32 = physWords(t.mem);
  const unlock = futexLockTwo(t.mem, w + 1, w2 + 1);
  try {
    let old = Atomics.load(p32, w2);
    for (;;) {
      const seen = Atomics.compareExchange(p32, w2, old, wakeOpApply(old, op, oparg)!);
      if (seen === old) break;
      old = seen;
    }
    // As futex_atomic_op_inuser: an unknown comparison fails after the op was applied.
    const second = wakeOpCompare(old, cmp, cmparg);
    if (second === null) return -ENOSYS;
    const woken = futexWakeLocked(t.mem, w + 1, nr, FUTEX_BITSET_MATCH_ANY);
    if (woken < 0 || !second) return woken;
    const woken2 = futexWakeLocked(t.mem, w2 + 1, nr2, FUTEX_BITSET_MATCH_ANY);
    return woken2 < 0 ? woken2 : woken + woken2;
  } finally {
    unlock();
  }
}

/**
 * The other futex commands of `op` (cmd already stripped of flags), with
 * futex(2)'s arguments: `val2` is the timeout argument read as a number
 * (REQUEUE and WAKE_OP counts), `va2` uaddr2, `val3` the compare value or
 * encoded operation; `deadline` the absolute timeout in performance.now()
 * time for the ops that sleep (Infinity: none).
 *
 * Entry: no lock held (the task is in kernel mode); each command takes and
 * drops mmap_lock for reading per word and the futex bucket locks, as
 * futexRequeue, futexWakeOp, futexLockPi and futexUnlockPi say.
 *
 * @returns the op's result, or null when `cmd` is not one of these
 */
export function futexMoreOps(
  t: Task,
  cmd: number,
  va: number,
  val: number,
  val2: number,
  va2: number,
  val3: number,
  deadline: number,
): number | null {
  switch (cmd) {
    case FUTEX_REQUEUE:
      return futexRequeue(t, va, val, val2, va2, null);
    case FUTEX_CMP_REQUEUE:
      return futexRequeue(t, va, val, val2, va2, val3);
    case FUTEX_WAKE_OP:
      return futexWakeOp(t, va, val, val2, va2, val3);
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
      return futexLockPi(t, va, false, deadline);
    case FUTEX_TRYLOCK_PI:
      return futexLockPi(t, va, true, Infinity);
    case FUTEX_UNLOCK_PI:
      return futexUnlockPi(t, va);
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------
// Robust lists.

/**
 * set_robust_list(head, len): remember the calling thread's robust-list
 * head. `len` must be the size of struct robust_list_head.
 *
 * @returns 0, or -EINVAL
 */
export function sysSetRobustList(t: Task, head: number, len: number): number {
  if ((len >>> 0) !== ROBUST_LIST_HEAD_BYTES) return -EINVAL;
  procSet(t.mem, t.slot, "robustHead", head >>> 0);
  procSet(t.mem, t.slot, "robustLen", len >>> 0);
  return 0;
}

/** Read one little-endian u32 of mm `mm` at `va`, or null on a fault. */
function peek(mem: Memory, mm: MmId, va: number): number | null {
  if (va + 4 > TASK_SIZE || (va & 3) !== 0) return null;
  const b = copyFromUser(mem, mm, asVirt(va), 4);
  return typeof b === "number" ? null : new DataView(b.buffer).getUint32(0, true);
}

/**
 * The futex at `uaddr` belonged to `tid`, which is gone: mark it
 * FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and wake one waiter (Linux's
 * handle_futex_death); a PI futex goes to its oldest waiter instead
 * (futexPiHandOver, Linux's exit_pi_state_list). For the list's pending
 * entry (`pendingOp`) of a plain futex whose word is 0, the thread died
 * between releasing it and waking a waiter: wake one, as Linux does.
 * Entry: no lock held.
 */
function futexDeath(
  mem: Memory,
  mm: MmId,
  uaddr: number,
  tid: number,
  pi: boolean,
  pendingOp = false,
): void {
  const w = futexPhysWord(mem, mm, uaddr, true);
  if (w < 0) return;
  const p32 = physWords(mem);
  futexLockBucket(mem, w + 1);
  try {
    for (;;) {
      const v = Atomics.load(p32, w);
      if (pendingOp && !pi && v === 0) {
        futexWakeLocked(mem, w + 1, 1, FUTEX_BITSET_MATCH_ANY);
        return;
      }
      if ((v & FUTEX_TID_MASK) !== tid) return;
      const nv = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
      if (Atomics.compareExchange(p32, w, v, nv) !== v) continue;
      if (pi) futexPiHandOver(mem, w, nv, true);
      else if ((v & FUTEX_WAITERS) !== 0) futexWakeLocked(mem, w + 1, 1, FUTEX_BITSET_MATCH_ANY);
      return;
    }
  } finally {
    futexUnlockBucket(mem, w + 1);
  }
}

/**
 * Walk the robust list of the task in `slot` (guest tid `tid`), whose mm
 * is `mm`, and release every futex it still owns (Linux's
 * exit_robust_list), then forget the list. Called at exit and exec, while
 * the mm is still the task's. A corrupt list is walked as far as it reads.
 * Entry: no lock held.
 */
export function exitRobustList(mem: Memory, slot: TaskSlot, tid: number, mm: MmId): void {
  const head = procGet(mem, slot, "robustHead") >>> 0;
  if (head === 0) return;
  procSet(mem, slot, "robustHead", 0);
  const offRaw = peek(mem, mm, head + 4);
  const pendingRaw = peek(mem, mm, head + 8);
  let entry = peek(mem, mm, head);
  if (offRaw === null || pendingRaw === null || entry === null) return;
  const off = offRaw | 0;
  const pending = pendingRaw & ~1;
  for (let n = 0; entry !== head && n < ROBUST_LIST_LIMIT; n++) {
    const e = entry & ~1;
    const next = peek(mem, mm, e);
    // The entry being added or removed is handled last, as Linux does.
    if (e !== pending) futexDeath(mem, mm, (e + off) >>> 0, tid, (entry & 1) !== 0);
    if (next === null) break;
    entry = next;
  }
  if (pending !== 0) {
    futexDeath(mem, mm, (pending + off) >>> 0, tid, (pendingRaw & 1) !== 0, true);
  }
}
