/**
 * futex(2): FUTEX_WAIT and FUTEX_WAKE on the physical word behind a user
 * address, and the dispatch of the other commands (docs/ARCHITECTURE.md §10).
 *
 * Linux keys a shared futex by (inode, offset) or (mm, address); xip keys
 * every futex by its physical word, which is the same thing one level
 * down: two processes that map the same file page MAP_SHARED reach the
 * same frame (a device frame under DAX, a page-cache frame otherwise), so
 * a wait in one and a wake in the other meet. The private variants
 * (FUTEX_PRIVATE_FLAG) take the same path.
 *
 * Sleepers queue in the futex queue (futex_q.ts) and sleep on their own
 * wake word, in killable slices (sleep.ts), so a wake counts whom it
 * woke, bitsets are matched, and REQUEUE moves sleepers (futex_ops.ts).
 * A sleeper publishes the key it sleeps on (PROC.futexWord) for the live
 * view, and its wake word (SIGTASK.waitWord) so that a signal ends its
 * sleep at once.
 *
 * @module
 */

import { EAGAIN, EFAULT, EINVAL, ENOSYS } from "../abi/errno.ts";
import { ERESTART_RESTARTBLOCK, ERESTARTSYS } from "../abi/signal.ts";
import {
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_R,
  PTE_U,
  PTE_W,
  pteIsLeaf,
  pteToPfn,
} from "../abi/sv32.ts";
import { asPte, asVirt, type MmId, PAGE_SIZE, pageOffset, pageRoundDown } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { handleMmFaultLocked } from "../mm/fault.ts";
import { mmapReadLock, mmapReadUnlock, TASK_SIZE } from "../mm/mm.ts";
import { hugePfnAt, physWords, pmdWord, pteLoad, walk, WALK_HUGE } from "../mm/pgtable.ts";
import { FUTEXQ_WAITING } from "../abi/layout/proc.ts";
import { FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, futexMoreOps } from "./futex_ops.ts";
import {
  FUTEX_BITSET_MATCH_ANY,
  futexEnqueue,
  futexLockBucket,
  futexSleep,
  futexUnlockBucket,
  futexUnqueue,
  futexWakeKey,
} from "./futex_q.ts";
import { procSet } from "./proc.ts";
import type { Task } from "./task.ts";

export const FUTEX_WAIT = 0;
export const FUTEX_WAKE = 1;
export const FUTEX_PRIVATE_FLAG = 128;
export const FUTEX_CLOCK_REALTIME = 256;
/** The command part of the op word. */
export const FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

/** Faults tolerated while translating (each means another Worker changed the mapping). */
const MAX_TRIES = 16;

/**
 * The physical word index (into physWords) of user address `va` in mm
 * `mm`, faulting the page in as an access would. Where the mapping may be
 * written, the page is faulted in for writing even for a wait, so that a
 * private page shared copy-on-write (after a fork) is this mm's own first:
 * xip keys a futex by its frame, and a copy made later would move the
 * word away from a sleeper (Linux keys private futexes by address instead).
 * Entry: no lock held; takes mmap_lock for reading.
 *
 * @param needWrite the caller will modify the word (WAKE_OP, PI, robust
 *   lists): a mapping it may not write is -EFAULT
 * @returns the word index, or -EINVAL (not 4-byte aligned), -EFAULT
 */
export function futexPhysWord(mem: Memory, mm: MmId, va: number, needWrite = false): number {
  va >>>= 0;
  if ((va & 3) !== 0) return -EINVAL;
  if (va >= TASK_SIZE) return -EFAULT;
  const p32 = physWords(mem);
  let write = true;
  mmapReadLock(mem, mm);
  try {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      let w = walk(mem, mm, asVirt(pageRoundDown(va)), false);
      const huge = w === WALK_HUGE; // a megapage: the root entry is the leaf
      if (huge) w = pmdWord(mem, mm, asVirt(va));
      const pte = w < 0 ? asPte(0) : pteLoad(p32, w);
      const want = PTE_U | PTE_R | (write ? PTE_W : 0);
      if (w >= 0 && pteIsLeaf(pte) && (pte & want) === want) {
        const pfn = huge ? hugePfnAt(pte, va) : pteToPfn(pte);
        return (pfn * PAGE_SIZE + pageOffset(asVirt(va))) >>> 2;
      }
      if (handleMmFaultLocked(mem, mm, asVirt(va), write ? ACCESS_WRITE : ACCESS_READ) !== 0) {
        if (!write || needWrite) return -EFAULT;
        write = false; // a mapping it may only read: wait on it as it is
      }
    }
    return -EFAULT;
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

/**
 * FUTEX_WAIT (and WAIT_BITSET): sleep while the word at `va` holds `val`,
 * until a wake whose bitset meets `bitset` takes the task off its queue,
 * `timeoutMs` passes (null: forever) or a signal is pending (Linux's
 * futex_wait). The word is compared under the bucket lock, and wakers
 * change it before they take that lock, so no wake-up is lost.
 *
 * Entry: no lock held (the task is in kernel mode, so TLB shootdowns do
 * not wait for it). futexPhysWord takes and drops mmap_lock for reading;
 * the bucket lock is held only to compare and queue, and to leave.
 *
 * @returns 0 (woken), -EAGAIN (the word did not hold val), -ETIMEDOUT,
 *   -ERESTARTSYS or -ERESTART_RESTARTBLOCK (a signal is pending: see
 *   futexInterrupted), -EINVAL, -EFAULT
 */
export function futexWait(
  t: Task,
  va: number,
  val: number,
  timeoutMs: number | null,
  bitset = FUTEX_BITSET_MATCH_ANY,
): number {
  const idx = futexPhysWord(t.mem, t.mm, va);
  if (idx < 0) return idx;
  const key = idx + 1;
  const mem = t.mem;
  const deadline = timeoutMs === null ? Infinity : performance.now() + timeoutMs;
  futexLockBucket(mem, key);
  try {
    if (Atomics.load(physWords(mem), idx) !== (val | 0)) return -EAGAIN;
    futexEnqueue(mem, t.slot, key, bitset, 0);
  } finally {
    futexUnlockBucket(mem, key);
  }
  procSet(mem, t.slot, "futexWord", key);
  let r: number;
  try {
    r = futexSleep(mem, t.slot, deadline);
  } finally {
    // Woken wins over a signal or the timeout that came at the same time.
    if (futexUnqueue(mem, t.slot) !== FUTEXQ_WAITING) r = 0;
    procSet(mem, t.slot, "futexWord", 0);
  }
  if (r === -ERESTARTSYS) return futexInterrupted(t, va, val, deadline, bitset);
  return r;
}

/**
 * A signal interrupted a FUTEX_WAIT (Linux's futex_wait): without a
 * timeout the wait restarts transparently unless a handler without
 * SA_RESTART runs; with one it resumes through restart_syscall with the
 * time that is left (futex_wait_restart), or fails with EINTR when a
 * handler runs.
 */
function futexInterrupted(
  t: Task,
  va: number,
  val: number,
  deadline: number,
  bitset: number,
): number {
  if (deadline === Infinity) return -ERESTARTSYS;
  t.sig.restartBlock = () =>
    futexWait(t, va, val, Math.max(0, deadline - performance.now()), bitset);
  return -ERESTART_RESTARTBLOCK;
}

/**
 * FUTEX_WAKE (and WAKE_BITSET): wake up to `n` sleepers on the word at
 * `va` whose bitset meets `bitset`, oldest first; as in Linux, a count of
 * 0 or less still wakes one. Entry: no lock held; futexPhysWord takes and
 * drops mmap_lock for reading (and a fault's locks when the page is not
 * mapped), then the bucket lock is held for the wake.
 *
 * @returns how many were woken, or -EINVAL (a PI waiter on the word, or
 *   not aligned), -EFAULT
 */
export function futexWake(t: Task, va: number, n: number, bitset = FUTEX_BITSET_MATCH_ANY): number {
  const idx = futexPhysWord(t.mem, t.mm, va);
  if (idx < 0) return idx;
  return futexWakeKey(t.mem, idx + 1, n, bitset);
}

/**
 * Wake one waiter of the futex at physical word `idx` from kernel code
 * (a thread's CLONE_CHILD_CLEARTID at exit, a robust futex whose owner
 * died). Entry: no lock held.
 *
 * @returns how many were woken
 */
export function futexWakeWord(mem: Memory, idx: number, n: number): number {
  return futexWakeKey(mem, idx + 1, n);
}

/**
 * futex(uaddr, op, val, timeout, uaddr2, val3): dispatch on the command.
 * `timeoutMs` is the decoded relative timeout of a wait (null: none);
 * `deadline` the absolute one of the ops whose timeout is absolute (in
 * performance.now() time, Infinity: none); `val2` the timeout argument as a
 * number, for the ops that take a count there.
 *
 * Entry: no lock held (the task is in kernel mode). Every command takes and
 * drops mmap_lock for reading to find its word (futexPhysWord) and sleeps,
 * if it does, with no lock held.
 *
 * @returns the command's result, or -ENOSYS for one xip does not have
 */
export function doFutex(
  t: Task,
  va: number,
  op: number,
  val: number,
  timeoutMs: number | null,
  val2 = 0,
  va2 = 0,
  val3 = 0,
  deadline = Infinity,
): number {
  const cmd = op & FUTEX_CMD_MASK;
  switch (cmd) {
    case FUTEX_WAIT:
      return futexWait(t, va, val, timeoutMs);
    case FUTEX_WAKE:
      return futexWake(t, va, val);
    case FUTEX_WAIT_BITSET:
      if (val3 === 0) return -EINVAL;
      return futexWait(
        t,
        va,
        val,
        deadline === Infinity ? null : Math.max(0, deadline - performance.now()),
        val3,
      );
    case FUTEX_WAKE_BITSET:
      return val3 === 0 ? -EINVAL : futexWake(t, va, val, val3);
    default:
      return futexMoreOps(t, cmd, va, val, val2, va2, val3, deadline) ?? -ENOSYS;
  }
}
