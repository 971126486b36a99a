/**
 * Signal state in shared memory (the `signal` region, src/abi/layout/signal.ts):
 * the sighand, group and task records, the siglock, pending sets and the
 * real-time queue, blocked masks, and each record's life from spawn (or
 * fork) to reap. Linux's struct sighand_struct, struct signal_struct and
 * the signal fields of task_struct, with the helpers of kernel/signal.c
 * that work on them (sigqueue_alloc, collect_signal, flush_sigqueue_mask,
 * recalc_sigpending). Their life from spawn or fork to reap (copy_sighand,
 * copy_signal, flush_signal_handlers) is signal_lifecycle.ts.
 *
 * Locking: a sighand's siglock (LockClass.SIGHAND, a leaf) guards the
 * dispositions, the group records of the tasks using it, and those tasks'
 * masks and pending sets. Threads of one group always share one sighand
 * (CLONE_THREAD needs CLONE_SIGHAND), so one lock covers a whole group.
 * Nothing in a siglock section is a kill point (no other lock, no wait),
 * so a task killed at the lock's acquire or release never leaves half an
 * update. TIF_SIGPENDING, the wake word and the queue pool are atomics.
 *
 * @module
 */

import { EAGAIN } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { SIGKILL, type SigSet, SIGSTOP } from "../abi/signal.ts";
import {
  JOBCTL_STOP_PENDING,
  SIGACT,
  SIGACT_WORDS,
  SIGGRP,
  SIGGRP_WORDS,
  SIGHAND,
  SIGHAND_WORDS,
  SIGHDR,
  SIGINFO_WORDS,
  SIGNAL_GROUP_EXIT,
  type SignalParts,
  signalParts,
  SIGPEND,
  SIGPEND_WORDS,
  SIGQ,
  SIGQ_WORDS,
  sigqueueMax,
  SIGTASK,
  SIGTASK_LIVE,
  SIGTASK_WORDS,
  STD_SIGNALS,
  TIF_SIGPENDING,
} from "../abi/layout/signal.ts";
import type { KernelLayout } from "../abi/layout/mod.ts";
import type { Memory } from "../hw/memory.ts";
import { LockClass, mutexLock, mutexUnlock } from "../sync/mod.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";

// ---------------------------------------------------------------------------
// Record addresses.

const partsCache = new WeakMap<KernelLayout, SignalParts>();
function parts(mem: Memory): SignalParts {
  let p = partsCache.get(mem.layout);
  if (p === undefined) {
    p = signalParts(mem.layout.config);
    partsCache.set(mem.layout, p);
  }
  return p;
}

/** Word index of the region header. */
export const sigHeader = (mem: Memory): number => mem.layout.signal.base;
/** Word index of task `tid`'s signal record. */
export const sigTask = (mem: Memory, tid: TaskSlot): number =>
  mem.layout.signal.base + parts(mem).tasks + tid * SIGTASK_WORDS;
/** Word index of group record `g`. */
export const sigGroup = (mem: Memory, g: number): number =>
  mem.layout.signal.base + parts(mem).groups + g * SIGGRP_WORDS;
/** Word index of sighand record `h`. */
export const sigHand = (mem: Memory, h: number): number =>
  mem.layout.signal.base + parts(mem).sighands + h * SIGHAND_WORDS;
/** Word index of queue entry `e` (1-based: 0 means none). */
const sigQueue = (mem: Memory, e: number): number =>
  mem.layout.signal.base + parts(mem).queue + (e - 1) * SIGQ_WORDS;

/** Word index of the action record of `sig` in sighand `h`. */
export const sigAction = (mem: Memory, h: number, sig: number): number =>
  sigHand(mem, h) + SIGHAND.actions + (sig - 1) * SIGACT_WORDS;

/** A task's field (plain read: callers hold the siglock or read their own). */
export const taskField = (mem: Memory, tid: TaskSlot, f: keyof typeof SIGTASK): number =>
  Atomics.load(mem.k32, sigTask(mem, tid) + SIGTASK[f]);
export const setTaskField = (
  mem: Memory,
  tid: TaskSlot,
  f: keyof typeof SIGTASK,
  v: number,
): void => {
  Atomics.store(mem.k32, sigTask(mem, tid) + SIGTASK[f], v);
};
export const groupField = (mem: Memory, g: number, f: keyof typeof SIGGRP): number =>
  Atomics.load(mem.k32, sigGroup(mem, g) + SIGGRP[f]);
export const setGroupField = (
  mem: Memory,
  g: number,
  f: keyof typeof SIGGRP,
  v: number,
): void => {
  Atomics.store(mem.k32, sigGroup(mem, g) + SIGGRP[f], v);
};

/** Word index of a task's private pending block, and of a group's shared one. */
export const taskPending = (mem: Memory, tid: TaskSlot): number =>
  sigTask(mem, tid) + SIGTASK.pending;
export const groupPending = (mem: Memory, g: number): number => sigGroup(mem, g) + SIGGRP.pending;

// ---------------------------------------------------------------------------
// The siglock.

/** Take sighand `h`'s siglock. Entry: no siglock held. */
export function siglock(mem: Memory, h: number): void {
  mutexLock(mem.k32, sigHand(mem, h) + SIGHAND.lock, LockClass.SIGHAND);
}
export function sigunlock(mem: Memory, h: number): void {
  mutexUnlock(mem.k32, sigHand(mem, h) + SIGHAND.lock);
}

/**
 * Lock the sighand of live task `tid` (Linux's lock_task_sighand): re-check
 * after locking that the task still uses it, since a task that exits or
 * execs may let go of it meanwhile. Entry: no siglock held (the tasklist
 * lock may be); returns with it held when it answers a sighand (drop it with
 * sigunlock).
 *
 * @returns the sighand index, locked; 0 (nothing locked) when the task is
 *   not live
 */
export function lockTaskSighand(mem: Memory, tid: TaskSlot): number {
  for (;;) {
    if (taskField(mem, tid, "state") !== SIGTASK_LIVE) return 0;
    const h = taskField(mem, tid, "sighand");
    if (h === 0) return 0;
    siglock(mem, h);
    if (taskField(mem, tid, "sighand") === h && taskField(mem, tid, "state") === SIGTASK_LIVE) {
      return h;
    }
    sigunlock(mem, h);
  }
}

// ---------------------------------------------------------------------------
// Sets and masks.

const KERNEL_ONLY_LO = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/** k[i] |= v and k[i] &= v, for words only siglock holders write. */
export const orW = (k: Int32Array, i: number, v: number): void => {
  k[i] = k[i]! | v;
};
export const andW = (k: Int32Array, i: number, v: number): void => {
  k[i] = k[i]! & v;
};

/** `sig`'s word (0 for lo, 1 for hi) and bit. */
const wordOf = (sig: number): number => (sig <= 32 ? 0 : 1);
const bitOf = (sig: number): number => 1 << ((sig - 1) & 31);

/** The blocked mask of `tid`. */
export const taskBlocked = (mem: Memory, tid: TaskSlot): SigSet => ({
  lo: taskField(mem, tid, "blockedLo"),
  hi: taskField(mem, tid, "blockedHi"),
});

/** Is `sig` blocked by `tid` (or by its real_blocked while in rt_sigtimedwait)? */
export function taskBlocks(mem: Memory, tid: TaskSlot, sig: number, real = false): boolean {
  const b = sigTask(mem, tid);
  const k = mem.k32;
  const w = wordOf(sig), m = bitOf(sig);
  if ((k[b + (w === 0 ? SIGTASK.blockedLo : SIGTASK.blockedHi)]! & m) !== 0) return true;
  return real && (k[b + (w === 0 ? SIGTASK.realBlockedLo : SIGTASK.realBlockedHi)]! & m) !== 0;
}

/**
 * Set `tid`'s blocked mask (never SIGKILL or SIGSTOP) and recompute its
 * TIF_SIGPENDING. Entry: siglock held.
 */
export function setBlockedLocked(mem: Memory, tid: TaskSlot, s: SigSet): void {
  const b = sigTask(mem, tid);
  mem.k32[b + SIGTASK.blockedLo] = s.lo & ~KERNEL_ONLY_LO;
  mem.k32[b + SIGTASK.blockedHi] = s.hi;
  recalcSigpending(mem, tid);
}

/** Is `sig` pending in the block at `p`? */
export const pendingHas = (k: Int32Array, p: number, sig: number): boolean =>
  (k[p + SIGPEND.lo + wordOf(sig)]! & bitOf(sig)) !== 0;

/** The signals pending in the block at `p`. */
export const pendingSet = (k: Int32Array, p: number): SigSet => ({
  lo: k[p + SIGPEND.lo]!,
  hi: k[p + SIGPEND.hi]!,
});

/**
 * Recompute TIF_SIGPENDING of `tid` (Linux's recalc_sigpending_tsk, but
 * also clearing it: only the task itself, or its siglock holder for a
 * task it just changed, calls this). Set when an unblocked signal is
 * pending privately or for the group, a group stop wants the task, or the
 * group is exiting. Entry: siglock held.
 */
export function recalcSigpending(mem: Memory, tid: TaskSlot): void {
  const k = mem.k32;
  const b = sigTask(mem, tid);
  const g = k[b + SIGTASK.group]!;
  const bl = k[b + SIGTASK.blockedLo]!, bh = k[b + SIGTASK.blockedHi]!;
  const p = b + SIGTASK.pending;
  let want = ((k[p + SIGPEND.lo]! & ~bl) | (k[p + SIGPEND.hi]! & ~bh)) !== 0 ||
    (k[b + SIGTASK.flags]! & JOBCTL_STOP_PENDING) !== 0;
  if (!want && g !== 0) {
    const gp = sigGroup(mem, g);
    want = (k[gp + SIGGRP.flags]! & SIGNAL_GROUP_EXIT) !== 0 ||
      ((k[gp + SIGGRP.pending + SIGPEND.lo]! & ~bl) |
          (k[gp + SIGGRP.pending + SIGPEND.hi]! & ~bh)) !== 0;
  }
  if (want) Atomics.or(k, b + SIGTASK.flags, TIF_SIGPENDING);
  else Atomics.and(k, b + SIGTASK.flags, ~TIF_SIGPENDING);
}

// ---------------------------------------------------------------------------
// siginfo, as 8 words (the kernel_siginfo part of the 128-byte siginfo_t).

/** A siginfo: signo, errno, code, then the union (SIGINFO offsets / 4). */
export type KSigInfo = Int32Array;

/** A zeroed siginfo for `sig` with `code`. */
export function siginfoNew(sig: number, code: number): KSigInfo {
  const i = new Int32Array(SIGINFO_WORDS);
  i[0] = sig;
  i[2] = code;
  return i;
}

// ---------------------------------------------------------------------------
// The real-time queue pool: a bitmap of entries claimed with compareExchange.

/**
 * Claim a queue entry. Lock-free; callers hold the target's siglock so that
 * the entry is linked before any kill point.
 *
 * @returns the entry (>= 1), or 0 when all sigqueueMax entries are queued
 */
function sigqueueAlloc(mem: Memory): number {
  const k = mem.k32;
  const max = sigqueueMax(mem.layout.config);
  const bm = mem.layout.signal.base + parts(mem).bitmap;
  for (let w = 0; w * 32 < max; w++) {
    for (;;) {
      const cur = Atomics.load(k, bm + w);
      if (cur === -1) break;
      const free = ~cur & -~cur; // lowest clear bit
      const bit = 31 - Math.clz32(free);
      if (w * 32 + bit >= max) break;
      if (Atomics.compareExchange(k, bm + w, cur, cur | free) === cur) {
        Atomics.add(k, sigHeader(mem) + SIGHDR.queued, 1);
        return w * 32 + bit + 1;
      }
    }
  }
  return 0;
}

function sigqueueFree(mem: Memory, e: number): void {
  const bm = mem.layout.signal.base + parts(mem).bitmap;
  const i = e - 1;
  const was = Atomics.and(mem.k32, bm + (i >>> 5), ~(1 << (i & 31)));
  if ((was & (1 << (i & 31))) === 0) throw new KernelPanic("sigqueueFree", `entry ${e} is free`);
  Atomics.sub(mem.k32, sigHeader(mem) + SIGHDR.queued, 1);
}

/** Queue entries in use machine-wide. */
export const sigqueueUsed = (mem: Memory): number =>
  Atomics.load(mem.k32, sigHeader(mem) + SIGHDR.queued);

// ---------------------------------------------------------------------------
// Pending blocks. Entry for all: the siglock of the block's sighand held.

/**
 * Make `sig` pending in the block at `p` with `info` (Linux's
 * __send_signal_locked after its checks). A standard signal that is
 * already pending is not queued again (legacy_queue) and keeps its first
 * siginfo. A real-time signal queues one instance; with the pool full it
 * is still marked pending but loses its siginfo, unless `mustQueue`
 * (sigqueue, or anything but a plain kill), which fails instead.
 *
 * @returns 1 queued, 0 already pending (standard signal), -EAGAIN the pool is full
 */
export function pendingAdd(
  mem: Memory,
  p: number,
  sig: number,
  info: KSigInfo | null,
  mustQueue: boolean,
): number {
  const k = mem.k32;
  if (sig <= STD_SIGNALS) {
    if (pendingHas(k, p, sig)) return 0;
    const slot = p + SIGPEND.info + (sig - 1) * SIGINFO_WORDS;
    if (info !== null) k.set(info, slot);
    else k.fill(0, slot, slot + SIGINFO_WORDS);
    k[slot] = sig;
  } else {
    const e = info === null ? 0 : sigqueueAlloc(mem);
    if (e === 0 && mustQueue) return -EAGAIN;
    if (e !== 0) {
      const q = sigQueue(mem, e);
      k[q + SIGQ.next] = 0;
      k.set(info!, q + SIGQ.info);
      k[q + SIGQ.info] = sig;
      const tail = k[p + SIGPEND.qTail]!;
      if (tail === 0) k[p + SIGPEND.qHead] = e;
      else k[sigQueue(mem, tail) + SIGQ.next] = e;
      k[p + SIGPEND.qTail] = e;
    }
  }
  orW(k, p + SIGPEND.lo + wordOf(sig), bitOf(sig));
  return 1;
}

/**
 * Take one instance of `sig` off the block at `p` (Linux's collect_signal):
 * its siginfo, or a plain SI_USER one when it was queued without (the pool
 * was full). The pending bit stays set while more instances are queued.
 */
export function pendingTake(mem: Memory, p: number, sig: number): KSigInfo {
  const k = mem.k32;
  const out = new Int32Array(SIGINFO_WORDS);
  if (sig <= STD_SIGNALS) {
    const slot = p + SIGPEND.info + (sig - 1) * SIGINFO_WORDS;
    out.set(k.subarray(slot, slot + SIGINFO_WORDS));
    out[0] = sig;
    andW(k, p + SIGPEND.lo, ~bitOf(sig));
    return out;
  }
  let prev = 0, first = 0, more = false;
  for (let e = k[p + SIGPEND.qHead]!, before = 0; e !== 0; e = k[sigQueue(mem, e) + SIGQ.next]!) {
    if (k[sigQueue(mem, e) + SIGQ.info] === sig) {
      if (first !== 0) {
        more = true;
        break;
      }
      first = e;
      prev = before;
    }
    before = e;
  }
  if (!more) andW(k, p + SIGPEND.hi, ~bitOf(sig));
  if (first === 0) {
    out[0] = sig; // si_code SI_USER, pid 0, uid 0: the instance had no room in the pool
    return out;
  }
  const q = sigQueue(mem, first);
  out.set(k.subarray(q + SIGQ.info, q + SIGQ.info + SIGINFO_WORDS));
  unlinkEntry(mem, p, prev, first);
  return out;
}

function unlinkEntry(mem: Memory, p: number, prev: number, e: number): void {
  const k = mem.k32;
  const next = k[sigQueue(mem, e) + SIGQ.next]!;
  if (prev === 0) k[p + SIGPEND.qHead] = next;
  else k[sigQueue(mem, prev) + SIGQ.next] = next;
  if (k[p + SIGPEND.qTail] === e) k[p + SIGPEND.qTail] = prev;
  sigqueueFree(mem, e);
}

/**
 * Discard every signal of `s` pending in the block at `p`, queued
 * instances included (Linux's flush_sigqueue_mask).
 *
 * @returns whether anything was pending
 */
export function pendingFlush(mem: Memory, p: number, s: SigSet): boolean {
  const k = mem.k32;
  const had = ((k[p + SIGPEND.lo]! & s.lo) | (k[p + SIGPEND.hi]! & s.hi)) !== 0;
  if (!had) return false;
  andW(k, p + SIGPEND.lo, ~s.lo);
  andW(k, p + SIGPEND.hi, ~s.hi);
  if (s.hi !== 0) {
    for (let e = k[p + SIGPEND.qHead]!, prev = 0; e !== 0;) {
      const next = k[sigQueue(mem, e) + SIGQ.next]!;
      const sig = k[sigQueue(mem, e) + SIGQ.info]!;
      if ((s.hi & bitOf(sig)) !== 0) unlinkEntry(mem, p, prev, e);
      else prev = e;
      e = next;
    }
  }
  return true;
}

const ALL: SigSet = { lo: -1, hi: -1 };

/** Empty the block at `p` (a zeroed block is empty; this also frees its queue). */
export function pendingClear(mem: Memory, p: number): void {
  pendingFlush(mem, p, ALL);
  mem.k32.fill(0, p, p + SIGPEND_WORDS);
}

// ---------------------------------------------------------------------------
// Dispositions.

/** One disposition (Linux's struct k_sigaction). */
export interface SigAction {
  handler: number;
  flags: number;
  mask: SigSet;
}

/** Read `sig`'s disposition in sighand `h`. Entry: siglock held (or h private to the caller). */
export function getAction(mem: Memory, h: number, sig: number): SigAction {
  const a = sigAction(mem, h, sig);
  const k = mem.k32;
  return {
    handler: k[a + SIGACT.handler]! >>> 0,
    flags: k[a + SIGACT.flags]!,
    mask: { lo: k[a + SIGACT.maskLo]!, hi: k[a + SIGACT.maskHi]! },
  };
}

/** Write `sig`'s disposition. Entry: siglock held. */
export function setAction(mem: Memory, h: number, sig: number, act: SigAction): void {
  const a = sigAction(mem, h, sig);
  const k = mem.k32;
  k[a + SIGACT.handler] = act.handler | 0;
  k[a + SIGACT.flags] = act.flags;
  k[a + SIGACT.maskLo] = act.mask.lo;
  k[a + SIGACT.maskHi] = act.mask.hi;
}

/** The handler word of `sig` in sighand `h` (0 SIG_DFL, 1 SIG_IGN, else an address). */
export const actionHandler = (mem: Memory, h: number, sig: number): number =>
  mem.k32[sigAction(mem, h, sig) + SIGACT.handler]! >>> 0;

// ---------------------------------------------------------------------------
// Walking a group's tasks. A group has at most a handful of threads and the
// task table is small, so a scan stands in for Linux's thread list.

/** Live tasks of group `g`, lowest tid first. Entry: the group's siglock held. */
export function groupTasks(mem: Memory, g: number): TaskSlot[] {
  const out: TaskSlot[] = [];
  const n = mem.layout.config.maxTasks;
  for (let i = 1; i < n; i++) {
    const tid = asTaskSlot(i);
    const b = sigTask(mem, tid);
    if (mem.k32[b + SIGTASK.state] === SIGTASK_LIVE && mem.k32[b + SIGTASK.group] === g) {
      out.push(tid);
    }
  }
  return out;
}

/** The group whose tgid is `pid` and that has not been reaped, or 0. No lock needed. */
export function findGroupByTgid(mem: Memory, pid: number): number {
  const n = mem.layout.config.maxTasks;
  for (let g = 1; g < n; g++) {
    if (groupField(mem, g, "users") > 0 && groupField(mem, g, "tgid") === pid) return g;
  }
  return 0;
}

/**
 * The live task whose guest tid is `tid` (Linux's find_task_by_vpid): the
 * map from a guest-visible thread id to a task slot. 0 when none. No lock
 * needed (callers re-check under it).
 */
export function findTaskByTid(mem: Memory, tid: number): TaskSlot {
  const n = mem.layout.config.maxTasks;
  for (let i = 1; i < n; i++) {
    const t = asTaskSlot(i);
    if (taskField(mem, t, "state") === SIGTASK_LIVE && taskField(mem, t, "tid") === tid) return t;
  }
  return asTaskSlot(0);
}

// ---------------------------------------------------------------------------
