/**
 * The futex operations beyond WAIT and WAKE that thread libraries use
 * (Linux's kernel/futex/): REQUEUE, CMP_REQUEUE, WAKE_OP, the bitset
 * variants, the priority-inheritance lock ops, and robust lists.
 *
 * xip's futex waiters sleep in Atomics.wait on the physical word itself
 * (futex.ts), so there is no kernel queue to move a waiter from one word
 * to another. REQUEUE therefore wakes the waiters it would have moved, as
 * well as the ones it wakes: they return 0 and look at their condition
 * again, which every futex user must do after a wake-up anyway (a
 * spurious wake-up, allowed by futex(2)). The count returned is the number
 * woken. Likewise bitsets are not matched: a BITSET wait is a plain wait,
 * a BITSET wake wakes every match of its count.
 *
 * PI futexes (FUTEX_LOCK_PI and friends) keep Linux's user-visible word
 * protocol (owner tid | FUTEX_WAITERS | FUTEX_OWNER_DIED) so that a C
 * library's fast paths work, but xip has no priorities: a contended
 * unlock clears the owner and wakes every waiter, and whichever takes the
 * word in the kernel marks FUTEX_WAITERS, so the next unlock comes to the
 * kernel again and no sleeper is ever forgotten.
 *
 * Robust lists (set_robust_list): when a thread exits or execs, every
 * futex on its list that it still owns gets FUTEX_OWNER_DIED and one
 * waiter is woken (Linux's exit_robust_list), so a robust mutex held by a
 * dead thread is reported as EOWNERDEAD instead of blocking forever.
 *
 * @module
 */

import { EAGAIN, EDEADLK, EINVAL, ENOSYS, EPERM, ETIMEDOUT } from "../abi/errno.ts";
import { ERESTARTSYS } from "../abi/signal.ts";
import { asTaskSlot, asVirt, type MmId, type TaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { TASK_SIZE } from "../mm/mm.ts";
import { physWords } from "../mm/pgtable.ts";
import { copyFromUser } from "../mm/uaccess.ts";
import { killCheck } from "../sync/current.ts";
import { futexPhysWord } from "./futex.ts";
import { PROC_EXITING, PROC_RUNNING, procGet, procSet } from "./proc.ts";
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

/** Longest single sleep of a PI lock, as FUTEX_SLICE_MS. */
const PI_SLICE_MS = 20;

/**
 * FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wake `nrWake` waiters on `va` and move
 * up to `nrRequeue` more to `va2`; here the moved ones are woken instead
 * (see the module comment). CMP_REQUEUE first checks that `va` still holds
 * `cmp`.
 *
 * Entry: no lock held. Takes and drops mmap_lock for reading once per word
 * (futexPhysWord); the compare and the wake hold no lock.
 *
 * @returns waiters woken, or -EAGAIN (CMP: the word changed), -EINVAL,
 *   -EFAULT
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
  const p32 = physWords(t.mem);
  if (cmp !== null && Atomics.load(p32, w) !== (cmp | 0)) return -EAGAIN;
  const n = Math.min(0x7fff_ffff, nrWake + nrRequeue);
  return Atomics.notify(p32, w, n);
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
 * (futexPhysWord, `va2` faulted in for writing); the operation is a
 * compareExchange loop and the wakes hold no lock.
 *
 * @returns waiters woken (both words), or -ENOSYS (an unknown op, before
 *   anything changes; an unknown comparison, after the op was applied: both
 *   as Linux), -EFAULT, -EINVAL
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
  let old = Atomics.load(p32, w2);
  for (;;) {
    const seen = Atomics.compareExchange(p32, w2, old, wakeOpApply(old, op, oparg)!);
    if (seen === old) break;
    old = seen;
  }
  // As futex_atomic_op_inuser: an unknown comparison fails after the op was applied.
  const second = wakeOpCompare(old, cmp, cmparg);
  if (second === null) return -ENOSYS;
  let woken = Atomics.notify(p32, w, Math.max(0, nr));
  if (second) woken += Atomics.notify(p32, w2, Math.max(0, nr2));
  return woken;
}

/** Whether thread `tid` (a guest tid) is a task that has not exited. */
function tidAlive(mem: Memory, tid: number): boolean {
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    if (procGet(mem, s, "pid") !== tid) continue;
    const st = procGet(mem, s, "state");
    return st === PROC_RUNNING || st === PROC_EXITING;
  }
  return false;
}

/**
 * FUTEX_LOCK_PI / FUTEX_TRYLOCK_PI: take the PI futex at `va` for the
 * calling thread: an unowned word (owner 0, or an owner that is gone)
 * becomes `tid | FUTEX_WAITERS`; an owned one gets FUTEX_WAITERS and the
 * caller sleeps until it is released, or `deadline` (performance.now() time)
 * passes.
 *
 * Entry: no lock held (the task is in kernel mode). Takes and drops
 * mmap_lock for reading to find the word (futexPhysWord); it sleeps, in
 * killable slices, holding no kernel lock.
 *
 * @returns 0, or -EDEADLK (the caller owns it), -EAGAIN (trylock, owned),
 *   -ETIMEDOUT, -ERESTARTSYS (a signal), -EFAULT, -EINVAL
 */
export function futexLockPi(t: Task, va: number, trylock: boolean, deadline: number): number {
  const w = futexPhysWord(t.mem, t.mm, va, true);
  if (w < 0) return w;
  const p32 = physWords(t.mem);
  const me = t.pid & FUTEX_TID_MASK;
  procSet(t.mem, t.slot, "futexWord", w + 1);
  try {
    for (;;) {
      const v = Atomics.load(p32, w);
      const owner = v & FUTEX_TID_MASK;
      if (owner === me) return -EDEADLK;
      if (owner === 0 || !tidAlive(t.mem, owner)) {
        // Taken in the kernel: mark waiters, so the unlock comes back here.
        const died = owner !== 0 ? FUTEX_OWNER_DIED : v & FUTEX_OWNER_DIED;
        if (Atomics.compareExchange(p32, w, v, me | FUTEX_WAITERS | died) === v) return 0;
        continue;
      }
      if (trylock) return -EAGAIN;
      const marked = v | FUTEX_WAITERS;
      if (v !== marked && Atomics.compareExchange(p32, w, v, marked) !== v) continue;
      killCheck(t.mem.k32);
      if (t.signalPending()) return -ERESTARTSYS;
      const left = deadline - performance.now();
      if (left <= 0) return -ETIMEDOUT;
      Atomics.wait(p32, w, marked, Math.min(PI_SLICE_MS, left));
    }
  } finally {
    procSet(t.mem, t.slot, "futexWord", 0);
  }
}

/**
 * FUTEX_UNLOCK_PI: release the PI futex at `va`, which the caller owns: the
 * word becomes 0 and every waiter is woken to race for it. Entry: no lock
 * held; takes and drops mmap_lock for reading to find the word
 * (futexPhysWord).
 *
 * @returns 0, or -EPERM (not the owner), -EFAULT, -EINVAL
 */
export function futexUnlockPi(t: Task, va: number): number {
  const w = futexPhysWord(t.mem, t.mm, va, true);
  if (w < 0) return w;
  const p32 = physWords(t.mem);
  for (;;) {
    const v = Atomics.load(p32, w);
    if ((v & FUTEX_TID_MASK) !== (t.pid & FUTEX_TID_MASK)) return -EPERM;
    if (Atomics.compareExchange(p32, w, v, 0) !== v) continue;
    Atomics.notify(p32, w);
    return 0;
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
 * drops mmap_lock for reading per word, as futexRequeue, futexWakeOp,
 * futexLockPi and futexUnlockPi say.
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
 * FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and wake a waiter (Linux's
 * handle_futex_death; a PI futex wakes every waiter, see futexUnlockPi).
 */
function futexDeath(mem: Memory, mm: MmId, uaddr: number, tid: number, pi: boolean): void {
  const w = futexPhysWord(mem, mm, uaddr, true);
  if (w < 0) return;
  const p32 = physWords(mem);
  for (;;) {
    const v = Atomics.load(p32, w);
    if ((v & FUTEX_TID_MASK) !== tid) return;
    const nv = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if (Atomics.compareExchange(p32, w, v, nv) !== v) continue;
    if ((v & FUTEX_WAITERS) !== 0) Atomics.notify(p32, w, pi ? undefined : 1);
    return;
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
  if (pending !== 0) futexDeath(mem, mm, (pending + off) >>> 0, tid, (pendingRaw & 1) !== 0);
}
