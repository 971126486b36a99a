/**
 * POSIX record locks (Linux's fs/locks.c, posix_lock_inode and
 * posix_test_lock): advisory byte-range locks on inodes, in one shared
 * table (region `flocks`, src/abi/layout/locks.ts) so that every process's
 * locks see each other.
 *
 * Owners. A traditional lock belongs to the process's fd table (Linux's
 * files_struct): any close of any fd the process has on the inode drops
 * all its locks there (that famous POSIX rule), and so does exit, which
 * closes everything. An OFD lock (F_OFD_*) belongs to the open file
 * description and goes when its last reference does. Two locks conflict
 * when they overlap, have different owners, and one is a write lock.
 *
 * Setting a lock replaces the owner's own locks over its range: locks of
 * the same type that overlap or touch it merge into it, others are cut
 * back or split, as Linux does, so F_GETLK reports the same ranges Linux
 * would. Unlocking cuts the range out of the owner's locks.
 *
 * Locking: every function takes the region's mutex (a FILE_TABLE-class
 * leaf) and runs in a no-kill region, so a hard kill never leaves a
 * half-split record; nothing else is held across it. F_SETLKW sleepers
 * wait on FLOCKS.seq, which every removal or shrink bumps and notifies.
 *
 * @module
 */

import { EAGAIN, EDEADLK, ENOLCK } from "../abi/errno.ts";
import {
  FLOCK,
  FLOCK_EOF,
  FLOCK_WORDS,
  FLOCKS,
  FLOCKS_MAX,
  flocksRecords,
} from "../abi/layout/locks.ts";
import type { TaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { LockClass } from "../sync/lockdep.ts";
import { mutexLock, mutexUnlock } from "../sync/mutex.ts";
import { withNoKill } from "../sync/current.ts";

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

/** A lock, or a request: [start, end) of inode `ino`, end FLOCK_EOF for "to EOF and beyond". */
export interface FileLock {
  owner: number;
  pid: number;
  type: number;
  start: number;
  end: number;
}

/** The owner of a traditional lock: the fd table (index `fdt`). */
export const posixOwner = (fdt: number): number => fdt + 1;
/** The owner of an OFD lock: the open-file record `idx`. */
export const ofdOwner = (idx: number): number => -(idx + 1);

const base = (mem: Memory): number => mem.layout.flocks.base;
const rec = (mem: Memory, i: number): number =>
  base(mem) + flocksRecords(mem.layout.config) + i * FLOCK_WORDS;

function getPos(k: Int32Array, at: number): number {
  return k[at + 1]! * 0x1_0000_0000 + (k[at]! >>> 0);
}
function setPos(k: Int32Array, at: number, v: number): void {
  k[at] = v % 0x1_0000_0000 | 0;
  k[at + 1] = Math.floor(v / 0x1_0000_0000);
}

function read(mem: Memory, i: number): FileLock {
  const k = mem.k32, r = rec(mem, i);
  return {
    owner: k[r + FLOCK.owner]!,
    pid: k[r + FLOCK.pid]!,
    type: k[r + FLOCK.type]!,
    start: getPos(k, r + FLOCK.start),
    end: getPos(k, r + FLOCK.end),
  };
}

function write(mem: Memory, i: number, ino: number, l: FileLock): void {
  const k = mem.k32, r = rec(mem, i);
  k[r + FLOCK.pid] = l.pid;
  k[r + FLOCK.type] = l.type;
  k[r + FLOCK.ino] = ino;
  setPos(k, r + FLOCK.start, l.start);
  setPos(k, r + FLOCK.end, l.end);
  Atomics.store(k, r + FLOCK.owner, l.owner); // last: the record is live from here
}

function free(mem: Memory, i: number): void {
  Atomics.store(mem.k32, rec(mem, i) + FLOCK.owner, 0);
  Atomics.sub(mem.k32, base(mem) + FLOCKS.used, 1);
}

/** Run `fn` holding the table's mutex, in a no-kill region. */
function locked<T>(mem: Memory, fn: () => T): T {
  return withNoKill(() => {
    const w = base(mem) + FLOCKS.lock;
    mutexLock(mem.k32, w, LockClass.FILE_TABLE);
    try {
      return fn();
    } finally {
      mutexUnlock(mem.k32, w);
    }
  });
}

/** Wake every F_SETLKW sleeper: something was released. Caller holds the mutex. */
function wakeWaiters(mem: Memory): void {
  const s = base(mem) + FLOCKS.seq;
  Atomics.add(mem.k32, s, 1);
  Atomics.notify(mem.k32, s);
}

const overlaps = (a: FileLock, s: number, e: number): boolean => a.start < e && a.end > s;
const conflicts = (a: FileLock, req: FileLock): boolean =>
  a.owner !== req.owner && overlaps(a, req.start, req.end) &&
  (a.type === F_WRLCK || req.type === F_WRLCK);

/** Live records of inode `ino`, as [index, lock]. Caller holds the mutex. */
function recordsOf(mem: Memory, ino: number): [number, FileLock][] {
  const out: [number, FileLock][] = [];
  if (Atomics.load(mem.k32, base(mem) + FLOCKS.used) === 0) return out;
  for (let i = 0; i < FLOCKS_MAX; i++) {
    const r = rec(mem, i);
    if (mem.k32[r + FLOCK.owner] === 0 || mem.k32[r + FLOCK.ino] !== ino) continue;
    out.push([i, read(mem, i)]);
  }
  return out;
}

function firstConflict(mem: Memory, ino: number, req: FileLock): FileLock | null {
  for (const [, l] of recordsOf(mem, ino)) if (conflicts(l, req)) return l;
  return null;
}

/**
 * F_GETLK: the first lock on `ino` that would block `req`. Entry: no lock
 * held; takes and drops the lock table's mutex (FILE_TABLE class).
 *
 * @returns it, or null when `req` could be set
 */
export function locksTest(mem: Memory, ino: number, req: FileLock): FileLock | null {
  return locked(mem, () => firstConflict(mem, ino, req));
}

/** Free record indexes, at most `n`. Caller holds the mutex. */
function freeRecords(mem: Memory, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < FLOCKS_MAX && out.length < n; i++) {
    if (mem.k32[rec(mem, i) + FLOCK.owner] === 0) out.push(i);
  }
  return out;
}

/**
 * F_SETLK: set, change or (type F_UNLCK) remove the owner's lock over
 * [req.start, req.end) of `ino`. With `waiterSlot` given (F_SETLKW) a
 * conflict is recorded in the waits table for deadlock detection, and a
 * cycle through the lock owners gives -EDEADLK. Entry: no lock held;
 * takes and drops the lock table's mutex (FILE_TABLE class), in a no-kill
 * region.
 *
 * @returns 0, -EAGAIN (a conflicting lock exists), -EDEADLK, -ENOLCK (no record free)
 */
export function locksSet(mem: Memory, ino: number, req: FileLock, waiterSlot?: TaskSlot): number {
  return locked(mem, () => {
    const mine = recordsOf(mem, ino).filter(([, l]) => l.owner === req.owner);
    if (req.type !== F_UNLCK) {
      const c = firstConflict(mem, ino, req);
      if (c !== null) {
        if (waiterSlot === undefined) return -EAGAIN;
        if (req.owner > 0 && c.owner > 0 && waitCycle(mem, req.owner, c.owner)) return -EDEADLK;
        setWait(mem, waiterSlot, req.owner, c.owner);
        return -EAGAIN;
      }
    }
    if (waiterSlot !== undefined) setWait(mem, waiterSlot, 0, 0);
    let { start, end } = req;
    const drop: number[] = [];
    // Same-type locks that overlap or touch the range merge into it.
    if (req.type !== F_UNLCK) {
      for (let grew = true; grew;) {
        grew = false;
        for (const [i, l] of mine) {
          if (drop.includes(i) || l.type !== req.type || l.start > end || l.end < start) continue;
          drop.push(i);
          if (l.start < start || l.end > end) grew = true;
          start = Math.min(start, l.start);
          end = Math.max(end, l.end);
        }
      }
    }
    // Others overlapping the range are cut back, split, or dropped.
    const cuts: [number, FileLock][] = [];
    const splits: FileLock[] = [];
    for (const [i, l] of mine) {
      if (drop.includes(i) || !overlaps(l, start, end)) continue;
      if (l.start < start && l.end > end) {
        cuts.push([i, { ...l, end: start }]);
        splits.push({ ...l, start: end });
      } else if (l.start < start) cuts.push([i, { ...l, end: start }]);
      else if (l.end > end) cuts.push([i, { ...l, start: end }]);
      else drop.push(i);
    }
    const need = splits.length + (req.type !== F_UNLCK ? 1 : 0);
    const targets = [...drop, ...freeRecords(mem, Math.max(0, need - drop.length))];
    if (targets.length < need) return -ENOLCK;
    // From here nothing fails: apply.
    for (const i of drop) free(mem, i);
    for (const [i, l] of cuts) write(mem, i, ino, l);
    const place = (l: FileLock) => {
      write(mem, targets.shift()!, ino, l);
      Atomics.add(mem.k32, base(mem) + FLOCKS.used, 1);
    };
    for (const l of splits) place(l);
    if (req.type !== F_UNLCK) place({ ...req, start, end });
    if (drop.length > 0 || cuts.length > 0 || req.type === F_UNLCK) wakeWaiters(mem);
    return 0;
  });
}

/** Whether owner `blocker`, following who waits for whom, comes back to `me`. Caller holds the mutex. */
function waitCycle(mem: Memory, me: number, blocker: number): boolean {
  const n = mem.layout.config.maxTasks;
  let cur = blocker;
  for (let steps = 0; steps <= n; steps++) {
    if (cur === me) return true;
    let next = 0;
    for (let s = 0; s < n; s++) {
      const w = base(mem) + FLOCKS.waits + 2 * s;
      if (mem.k32[w] === cur) {
        next = mem.k32[w + 1]!;
        break;
      }
    }
    if (next === 0) return false;
    cur = next;
  }
  return false;
}

function setWait(mem: Memory, slot: TaskSlot, waiter: number, blocker: number): void {
  const w = base(mem) + FLOCKS.waits + 2 * slot;
  mem.k32[w] = waiter;
  mem.k32[w + 1] = blocker;
}

/**
 * Forget task `slot`'s wait (an F_SETLKW that gave up: signal, kill).
 * Entry: no lock held; takes and drops the lock table's mutex (FILE_TABLE
 * class).
 */
export function locksWaitDone(mem: Memory, slot: TaskSlot): void {
  locked(mem, () => setWait(mem, slot, 0, 0));
}

/** The word F_SETLKW sleepers wait on, and its value now. */
export function locksSeq(mem: Memory): [number, number] {
  const s = base(mem) + FLOCKS.seq;
  return [s, Atomics.load(mem.k32, s)];
}

/**
 * Drop every lock of `owner` (on inode `ino` only, when given): a close
 * of a traditional owner's fd, or the last reference to an OFD. Cheap when
 * no lock exists anywhere.
 */
export function locksRelease(mem: Memory, owner: number, ino?: number): void {
  if (Atomics.load(mem.k32, base(mem) + FLOCKS.used) === 0) return;
  locked(mem, () => {
    let any = false;
    for (let i = 0; i < FLOCKS_MAX; i++) {
      const r = rec(mem, i);
      if (mem.k32[r + FLOCK.owner] !== owner) continue;
      if (ino !== undefined && mem.k32[r + FLOCK.ino] !== ino) continue;
      free(mem, i);
      any = true;
    }
    if (any) wakeWaiters(mem);
  });
}

/** Locks in use machine-wide (tests, invariants). */
export const locksInUse = (mem: Memory): number => Atomics.load(mem.k32, base(mem) + FLOCKS.used);

export { FLOCK_EOF };
