/**
 * Signal state in shared memory (the `signal` region, src/abi/layout/signal.ts):
 * the sighand, group and task records, the siglock, pending sets and the
 * real-time queue, blocked masks, and each record's life from spawn (or
 * fork) to reap. Linux's struct sighand_struct, struct signal_struct and
 * the signal fields of task_struct, with the helpers of kernel/signal.c
 * that work on them (sigqueue_alloc, collect_signal, flush_sigqueue_mask,
 * recalc_sigpending, copy_sighand, copy_signal, flush_signal_handlers).
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
import { SIGKILL, type SigSet, SIGSTOP, SS_DISABLE } from "../abi/signal.ts";
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
  SIGNAL_STOP_STOPPED,
  type SignalParts,
  signalParts,
  SIGPEND,
  SIGPEND_WORDS,
  SIGQ,
  SIGQ_WORDS,
  sigqueueMax,
  SIGTASK,
  SIGTASK_EXITED,
  SIGTASK_FREE,
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
const orW = (k: Int32Array, i: number, v: number): void => {
  k[i] = k[i]! | v;
};
const andW = (k: Int32Array, i: number, v: number): void => {
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
// Life cycle.

/** Claim a free record of a table whose records have a `users` word. */
function claim(mem: Memory, base: (mem: Memory, i: number) => number, users: number): number {
  const n = mem.layout.config.maxTasks;
  for (let i = 1; i < n; i++) {
    if (Atomics.compareExchange(mem.k32, base(mem, i) + users, 0, 1) === 0) return i;
  }
  throw new KernelPanic("signal claim", "no free record (one per task slot can never run out)");
}

function newSighand(mem: Memory): number {
  const h = claim(mem, sigHand, SIGHAND.users);
  const b = sigHand(mem, h);
  mem.k32.fill(0, b + SIGHAND.actions, b + SIGHAND_WORDS);
  return h;
}

function newGroup(mem: Memory, tgid: number, h: number, parent: number): number {
  const g = claim(mem, sigGroup, SIGGRP.users);
  const b = sigGroup(mem, g);
  mem.k32.fill(0, b + SIGGRP.live, b + SIGGRP_WORDS);
  mem.k32[b + SIGGRP.live] = 1;
  mem.k32[b + SIGGRP.tgid] = tgid;
  mem.k32[b + SIGGRP.sighand] = h;
  mem.k32[b + SIGGRP.parent] = parent;
  return g;
}

function initTask(mem: Memory, tid: TaskSlot, guestTid: number, g: number, h: number): void {
  const b = sigTask(mem, tid);
  if (Atomics.load(mem.k32, b + SIGTASK.state) !== SIGTASK_FREE) {
    throw new KernelPanic("signal initTask", `task ${tid} already has signal state`);
  }
  mem.k32.fill(0, b + 1, b + SIGTASK_WORDS);
  mem.k32[b + SIGTASK.tid] = guestTid;
  mem.k32[b + SIGTASK.group] = g;
  mem.k32[b + SIGTASK.sighand] = h;
  mem.k32[b + SIGTASK.sasFlags] = SS_DISABLE;
  Atomics.store(mem.k32, b + SIGTASK.state, SIGTASK_LIVE);
}

/**
 * Give task `tid` (a new process, guest pid `pid`, spawned by the Machine)
 * its signal state: default dispositions, nothing blocked or pending, no
 * alternate stack, and no parent to notify. Any thread.
 *
 * @throws KernelPanic if the task already has signal state
 */
export function signalSpawn(mem: Memory, tid: TaskSlot, pid: number): void {
  const h = newSighand(mem);
  const g = newGroup(mem, pid, h, 0);
  initTask(mem, tid, pid, g, h);
}

/**
 * Attach signal state to a task that was set up without the Machine (a test
 * bench's Task): spawn it unless the record is live already. Entry: no
 * siglock held; releasing an exited record first takes and drops its siglock
 * (signalRelease); spawning takes no lock.
 */
export function signalAttach(mem: Memory, tid: TaskSlot, pid: number): void {
  if (taskField(mem, tid, "state") === SIGTASK_LIVE) return;
  if (taskField(mem, tid, "state") === SIGTASK_EXITED) signalRelease(mem, tid);
  signalSpawn(mem, tid, pid);
}

/** What a clone shares (Linux's CLONE_* bits, as the fork layer decodes them). */
export interface SignalCloneFlags {
  /** CLONE_SIGHAND: share the dispositions instead of copying them. */
  readonly sighand: boolean;
  /** CLONE_THREAD: join the parent's thread group (requires sighand). */
  readonly thread: boolean;
  /** CLONE_VM without CLONE_VFORK: the child starts without an alternate stack. */
  readonly vmNoVfork: boolean;
}

/**
 * Create the signal state of `child` (guest tid `childTid`) cloned from
 * task `parent` (Linux's copy_sighand, copy_signal and the signal part of
 * copy_process): dispositions shared or copied, the thread group joined or
 * a new one made (whose parent is `parent`'s group, to be told of stops,
 * continues and exit), the blocked mask and alternate stack inherited,
 * nothing pending (pending signals are never inherited). Called by the
 * parent's thread before the child runs. Entry: no siglock held.
 *
 * @throws KernelPanic for CLONE_THREAD without CLONE_SIGHAND, or a parent without signal state
 */
export function signalFork(
  mem: Memory,
  parent: TaskSlot,
  child: TaskSlot,
  childTid: number,
  flags: SignalCloneFlags,
): void {
  if (flags.thread && !flags.sighand) {
    throw new KernelPanic("signalFork", "CLONE_THREAD without CLONE_SIGHAND");
  }
  const k = mem.k32;
  const ph = lockTaskSighand(mem, parent);
  if (ph === 0) throw new KernelPanic("signalFork", `parent ${parent} has no signal state`);
  try {
    const pg = taskField(mem, parent, "group");
    let h = ph;
    if (flags.sighand) Atomics.add(k, sigHand(mem, ph) + SIGHAND.users, 1);
    else {
      h = newSighand(mem);
      const from = sigHand(mem, ph) + SIGHAND.actions;
      k.copyWithin(sigHand(mem, h) + SIGHAND.actions, from, from + 64 * SIGACT_WORDS);
    }
    let g: number;
    if (flags.thread) {
      g = pg;
      Atomics.add(k, sigGroup(mem, g) + SIGGRP.users, 1);
      k[sigGroup(mem, g) + SIGGRP.live] = k[sigGroup(mem, g) + SIGGRP.live]! + 1;
    } else g = newGroup(mem, childTid, h, pg);
    initTask(mem, child, childTid, g, h);
    const pb = sigTask(mem, parent), cb = sigTask(mem, child);
    if (flags.thread && k[sigGroup(mem, g) + SIGGRP.execTask] !== 0) {
      // A thread born while another thread's execve kills the group dies too (de_thread.ts).
      pendingAdd(mem, taskPending(mem, child), SIGKILL, null, false);
      Atomics.or(k, cb + SIGTASK.flags, TIF_SIGPENDING);
    }
    k[cb + SIGTASK.blockedLo] = k[pb + SIGTASK.blockedLo]!;
    k[cb + SIGTASK.blockedHi] = k[pb + SIGTASK.blockedHi]!;
    if (!flags.vmNoVfork) {
      k[cb + SIGTASK.sasSp] = k[pb + SIGTASK.sasSp]!;
      k[cb + SIGTASK.sasSize] = k[pb + SIGTASK.sasSize]!;
      k[cb + SIGTASK.sasFlags] = k[pb + SIGTASK.sasFlags]!;
    }
  } finally {
    sigunlock(mem, ph);
  }
}

/**
 * The signal part of execve (Linux's unshare_sighand and
 * flush_signal_handlers(t, 0)): a sighand shared with another process is
 * copied first, then every caught signal reverts to SIG_DFL (ignored ones
 * stay ignored) and all flags and masks clear. The alternate stack is
 * disabled. The blocked mask and pending signals survive exec.
 * Entry: no siglock held; the caller is task `tid`, the group's only thread.
 */
export function signalExec(mem: Memory, tid: TaskSlot): void {
  const k = mem.k32;
  let h = lockTaskSighand(mem, tid);
  if (h === 0) return;
  if (Atomics.load(k, sigHand(mem, h) + SIGHAND.users) > 1) {
    const nh = newSighand(mem);
    const from = sigHand(mem, h) + SIGHAND.actions;
    k.copyWithin(sigHand(mem, nh) + SIGHAND.actions, from, from + 64 * SIGACT_WORDS);
    setTaskField(mem, tid, "sighand", nh);
    setGroupField(mem, taskField(mem, tid, "group"), "sighand", nh);
    Atomics.sub(k, sigHand(mem, h) + SIGHAND.users, 1);
    sigunlock(mem, h);
    h = nh;
    siglock(mem, h);
  }
  for (let sig = 1; sig <= 64; sig++) {
    const a = getAction(mem, h, sig);
    setAction(mem, h, sig, { handler: a.handler === 1 ? 1 : 0, flags: 0, mask: { lo: 0, hi: 0 } });
  }
  setTaskField(mem, tid, "sasSp", 0);
  setTaskField(mem, tid, "sasSize", 0);
  setTaskField(mem, tid, "sasFlags", SS_DISABLE);
  sigunlock(mem, h);
}

/**
 * Task `tid` has exited (the end of do_exit): it takes no more signals,
 * its private pending set is discarded, and when it was the group's last
 * thread the shared one too. Idempotent. Entry: no siglock held.
 */
export function signalExit(mem: Memory, tid: TaskSlot): void {
  const h = lockTaskSighand(mem, tid);
  if (h === 0) return;
  try {
    const g = taskField(mem, tid, "group");
    setTaskField(mem, tid, "state", SIGTASK_EXITED);
    Atomics.and(mem.k32, sigTask(mem, tid) + SIGTASK.flags, 0);
    pendingClear(mem, taskPending(mem, tid));
    const gb = sigGroup(mem, g);
    const live = mem.k32[gb + SIGGRP.live]! - 1;
    mem.k32[gb + SIGGRP.live] = live;
    if (live <= 0) {
      mem.k32[gb + SIGGRP.live] = 0;
      orW(mem.k32, gb + SIGGRP.flags, SIGNAL_GROUP_EXIT);
      pendingClear(mem, groupPending(mem, g));
    }
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * Free task `tid`'s signal state once it is reaped (or its Worker died):
 * exit it if it has not, then drop its references on its group and
 * sighand (the last frees them). Idempotent. Entry: no siglock held.
 */
export function signalRelease(mem: Memory, tid: TaskSlot): void {
  signalExit(mem, tid);
  const b = sigTask(mem, tid);
  if (Atomics.load(mem.k32, b + SIGTASK.state) !== SIGTASK_EXITED) return;
  const g = mem.k32[b + SIGTASK.group]!, h = mem.k32[b + SIGTASK.sighand]!;
  Atomics.store(mem.k32, b + SIGTASK.state, SIGTASK_FREE);
  if (g !== 0) Atomics.sub(mem.k32, sigGroup(mem, g) + SIGGRP.users, 1);
  if (h !== 0) Atomics.sub(mem.k32, sigHand(mem, h) + SIGHAND.users, 1);
}

export { andW, orW };

/**
 * Whether the process of task `tid` is stopped (a completed group stop,
 * not yet continued), and by which signal; 0 when it is not stopped.
 * For the Machine, tests and wait4. No lock (a snapshot).
 */
export function stoppedBy(mem: Memory, tid: TaskSlot): number {
  const g = taskField(mem, tid, "group");
  if (g === 0) return 0;
  return (groupField(mem, g, "flags") & SIGNAL_STOP_STOPPED) !== 0
    ? groupField(mem, g, "stopSig")
    : 0;
}
