/**
 * The held-lock stack: how every lock records its holder.
 *
 * Each task's record (TASK in src/abi/layout/mod.ts) ends in up to HELD_MAX
 * entries of HELD_ENTRY_WORDS words:
 *
 * ```
 *  HELD.word   word index of the lock (of the flags word, for a bit lock)
 *  HELD.desc   class << 16 | kind << 8 | subclass << 4 | mode
 *  HELD.state  HELD_NONE, HELD_ACQUIRING or HELD_HELD
 *  HELD.bit    bit number for a bit lock, -1 otherwise
 * ```
 *
 * An acquire pushes its entry in state HELD_ACQUIRING *before* it touches
 * the lock word, and flips it to HELD_HELD in the statement right after the
 * atomic operation that took the lock. A release finds its entry (locks may
 * be released in any order), releases the lock word, marks the entry
 * HELD_NONE in the statement right after, then removes it. recoverTask
 * (src/sync/recover.ts) relies on that adjacency; see there for why a
 * terminated Worker cannot stop between the two statements.
 *
 * Entries are written with plain stores: the only other reader is a thread
 * inspecting a task that has stopped (recovery) or that has synchronised
 * with it (tests), and V8 keeps typed-array stores in program order around
 * Atomics operations.
 *
 * @module
 */

import {
  HEADER,
  HELD,
  HELD_ENTRY_WORDS,
  HELD_MAX,
  TASK,
  TASK_DEAD,
  TASK_LIVE,
  TASK_WORDS,
} from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { TaskSlot } from "../abi/types.ts";
import { DEBUG_LOCKDEP } from "./debug.ts";
import { LockClass, lockdepViolation, lockOrderOk } from "./lockdep.ts";
import { currentTid, inNoKill, killNoticed } from "./current.ts";

/** Entry states. */
export const HELD_NONE = 0;
export const HELD_ACQUIRING = 1;
export const HELD_HELD = 2;

/** Lock kinds, in HELD.desc. */
export const KIND_MUTEX = 1;
export const KIND_RWSEM = 2;
export const KIND_BIT = 3;

/** Modes, in HELD.desc. */
export const MODE_EXCL = 0; // mutex, bit lock, rwsem writer
export const MODE_READ = 1; // rwsem reader

/** Pack a descriptor. `sub` is the lockdep subclass, 0..15. */
export function heldDesc(cls: LockClass, kind: number, mode: number, sub: number): number {
  if (sub < 0 || sub > 15) throw new KernelPanic("heldDesc", `subclass ${sub} outside 0..15`);
  return (cls << 16) | (kind << 8) | (sub << 4) | mode;
}
export const descClass = (d: number): LockClass => (d >>> 16) as LockClass;
export const descKind = (d: number): number => (d >>> 8) & 0xff;
export const descSub = (d: number): number => (d >>> 4) & 0xf;
export const descMode = (d: number): number => d & 0xf;

/** Word index of the first held entry of task `tid`. */
function heldBase(k: Int32Array, tid: TaskSlot): number {
  return k[HEADER.tasksBase]! + tid * TASK_WORDS + TASK.held;
}

/**
 * Push an entry for the calling task, in state HELD_ACQUIRING, before the
 * lock word is touched. With `check` and DEBUG_LOCKDEP, first verify the
 * lock order against every entry already on the stack.
 *
 * @returns the word index of the new entry, for heldAcquired/heldRelease
 * @throws KernelPanic with no current task, on stack overflow, or (lockdep)
 *   on an order violation; TaskKilled if the task was killed
 */
export function heldPush(
  k: Int32Array,
  w: number,
  desc: number,
  bit: number,
  check: boolean,
): number {
  const tid = currentTid();
  if (tid === 0) {
    throw new KernelPanic("heldPush", "lock taken outside any task (enter one first: enterTask)");
  }
  const t = k[HEADER.tasksBase]! + tid * TASK_WORDS;
  if (k[t + TASK.state] !== TASK_LIVE) killNoticed(k, t);
  else if (k[t + TASK.chaosAt] !== 0) chaosPoint(k, t);
  const depth = k[t + TASK.depth]!;
  if (depth >= HELD_MAX) {
    throw new KernelPanic("heldPush", `task ${tid} holds more than ${HELD_MAX} locks`);
  }
  const base = t + TASK.held;
  if (check && (k[HEADER.debug]! & DEBUG_LOCKDEP) !== 0) {
    const cls = descClass(desc);
    const sub = descSub(desc);
    for (let i = 0; i < depth; i++) {
      const e = base + i * HELD_ENTRY_WORDS;
      if (k[e + HELD.state] === HELD_NONE) continue;
      const d = k[e + HELD.desc]!;
      if (!lockOrderOk(descClass(d), descSub(d), cls, sub)) lockdepViolation(cls, descClass(d));
    }
  }
  const e = base + depth * HELD_ENTRY_WORDS;
  k[e + HELD.word] = w;
  k[e + HELD.desc] = desc;
  k[e + HELD.bit] = bit;
  k[e + HELD.state] = HELD_ACQUIRING;
  k[t + TASK.depth] = depth + 1; // last: the stack never covers a half-written entry
  return e;
}

/**
 * A lock operation of the current task (record `t`) while chaos testing
 * armed it (taskChaosArm): count it down and, at zero, kill the task here,
 * as taskKill would, so that it dies at this kill point holding what it
 * holds. Outside no-kill regions only; with TASK.chaosClass set, only while
 * the task holds a lock of that class.
 */
function chaosPoint(k: Int32Array, t: number): void {
  if (inNoKill()) return;
  const cls = k[t + TASK.chaosClass]!;
  if (cls !== 0) {
    let holds = false;
    for (let i = 0, depth = k[t + TASK.depth]!; i < depth && !holds; i++) {
      const e = t + TASK.held + i * HELD_ENTRY_WORDS;
      holds = k[e + HELD.state] === HELD_HELD && descClass(k[e + HELD.desc]!) === cls;
    }
    if (!holds) return;
  }
  const left = k[t + TASK.chaosAt]! - 1;
  Atomics.store(k, t + TASK.chaosAt, left);
  if (left > 0) return;
  Atomics.compareExchange(k, t + TASK.state, TASK_LIVE, TASK_DEAD);
  killNoticed(k, t);
}

/**
 * Find the calling task's entry for the lock at `w` (and `bit`, for a bit
 * lock; -1 otherwise), searching from the top.
 *
 * @throws KernelPanic if the task does not hold that lock
 */
export function heldFind(k: Int32Array, w: number, bit: number, where: string): number {
  const tid = currentTid();
  const base = heldBase(k, tid);
  if (tid !== 0) {
    const t = base - TASK.held;
    if (k[t + TASK.state] !== TASK_LIVE) killNoticed(k, t);
    else if (k[t + TASK.chaosAt] !== 0) chaosPoint(k, t);
  }
  const depth = tid === 0 ? 0 : k[base - TASK.held + TASK.depth]!;
  for (let i = depth - 1; i >= 0; i--) {
    const e = base + i * HELD_ENTRY_WORDS;
    if (k[e + HELD.word] === w && k[e + HELD.bit] === bit && k[e + HELD.state] === HELD_HELD) {
      return e;
    }
  }
  const what = bit < 0 ? `lock at word ${w}` : `bit ${bit} of word ${w}`;
  throw new KernelPanic(where, `task ${tid} releases ${what}, which it does not hold`);
}

/**
 * Remove entry `e` (already marked HELD_NONE) from the calling task's
 * stack, closing the gap if it was not on top. Each step of the loop moves
 * one entry and is straight-line code, so a task stopped between steps
 * leaves a stack with one HELD_NONE hole and no duplicate.
 */
export function heldPop(k: Int32Array, e: number): void {
  const t = k[HEADER.tasksBase]! + currentTid() * TASK_WORDS;
  const depth = k[t + TASK.depth]!;
  const top = t + TASK.held + (depth - 1) * HELD_ENTRY_WORDS;
  for (let to = e; to < top; to += HELD_ENTRY_WORDS) {
    const from = to + HELD_ENTRY_WORDS;
    k[to + HELD.word] = k[from + HELD.word]!;
    k[to + HELD.desc] = k[from + HELD.desc]!;
    k[to + HELD.bit] = k[from + HELD.bit]!;
    k[to + HELD.state] = k[from + HELD.state]!;
    k[from + HELD.state] = HELD_NONE;
  }
  k[t + TASK.depth] = depth - 1;
}

/** Abandon a push whose lock was not taken (a failed trylock). */
export function heldAbort(k: Int32Array, e: number): void {
  k[e + HELD.state] = HELD_NONE;
  heldPop(k, e);
}

/** One entry of a task's held-lock stack, decoded. */
export interface HeldLock {
  /** Word index of the lock (of its flags word, for a bit lock). */
  readonly word: number;
  /** Its lock class. */
  readonly cls: LockClass;
  /** KIND_MUTEX, KIND_RWSEM or KIND_BIT. */
  readonly kind: number;
  /** MODE_EXCL, or MODE_READ for a reader of an rwsem. */
  readonly mode: number;
  /** The subclass it was taken with (0 unless nested). */
  readonly subclass: number;
  /** HELD_ACQUIRING while the task waits for it, HELD_HELD once taken. */
  readonly state: number;
  /** The bit number of a bit lock, -1 for other kinds. */
  readonly bit: number;
}

/**
 * The held-lock stack of task `tid`, bottom first, skipping HELD_NONE holes.
 * Meaningful for the calling task, a task that has stopped, or one that has
 * synchronised with the caller.
 */
export function heldLocks(k: Int32Array, tid: TaskSlot): HeldLock[] {
  const base = heldBase(k, tid);
  const depth = Math.min(Atomics.load(k, base - TASK.held + TASK.depth), HELD_MAX);
  const out: HeldLock[] = [];
  for (let i = 0; i < depth; i++) {
    const e = base + i * HELD_ENTRY_WORDS;
    const state = Atomics.load(k, e + HELD.state);
    if (state === HELD_NONE) continue;
    const d = Atomics.load(k, e + HELD.desc);
    out.push({
      word: Atomics.load(k, e + HELD.word),
      cls: descClass(d),
      kind: descKind(d),
      mode: descMode(d),
      subclass: descSub(d),
      state,
      bit: Atomics.load(k, e + HELD.bit),
    });
  }
  return out;
}
