/**
 * System V semaphores (Linux's ipc/sem.c): semget, semop/semtimedop and
 * semctl, with SEM_UNDO adjustments applied when a process exits.
 *
 * State (layout/ipc.ts), all under the sem table's lock (class IPC):
 * - SEMID records: a set's perm, size and where its semaphores start in
 *   the pool;
 * - the pool: every semaphore's value and last pid, each set a contiguous
 *   run of it (first fit);
 * - SEMUNDO entries: (process, set, semaphore, adjustment), Linux's
 *   struct sem_undo flattened; a process's entries are its undo list,
 *   shared by its threads as CLONE_SYSVSEM shares it;
 * - SEMWAIT, one record per task: what a task blocked in semop waits for
 *   (the semaphore and condition of its first operation that could not
 *   proceed, Linux's q->blocking), which GETNCNT and GETZCNT count.
 *
 * semop applies its operations atomically: all of them or none (Linux's
 * perform_atomic_semop on a copy). When one would block, the task records
 * what it waits for and sleeps on the set's event word, which every value
 * change bumps, then tries again from the start; so there is no queue of
 * pending operations to keep consistent, and a waker never acts for a
 * sleeper. The sleep is interruptible and killable (signalSleep): a signal
 * makes semop fail with EINTR (never restarted, as on Linux), a timeout
 * with EAGAIN, the set's removal with EIDRM. A task killed while asleep
 * holds nothing but its SEMWAIT record, which the Machine clears
 * (semExitTask); counting skips tasks that are not live anyway.
 *
 * @module
 */

import {
  E2BIG,
  EAGAIN,
  EFBIG,
  EIDRM,
  EINTR,
  EINVAL,
  ENOMEM,
  ENOSPC,
  ERANGE,
} from "../abi/errno.ts";
import {
  GETALL,
  GETNCNT,
  GETPID,
  GETVAL,
  GETZCNT,
  IPC_64,
  IPC_INFO,
  IPC_NOWAIT,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  SEM_INFO,
  SEM_STAT,
  SEM_STAT_ANY,
  SEM_UNDO,
  SEMAEM,
  SEMBUF,
  SEMBUF_BYTES,
  SEMID64,
  SEMID64_BYTES,
  SEMINFO_BYTES,
  SEMMSL,
  SEMOPM,
  SEMVMX,
  SETALL,
  SETVAL,
} from "../abi/ipc.ts";
import { ICACHE_SLOTS } from "../abi/layout/mod.ts";
import {
  ipcParts,
  SEM,
  SEM_IDS,
  SEM_POOL,
  SEM_UNDOS,
  SEM_WORDS,
  SEMID,
  SEMID_WORDS,
  SEMUNDO,
  SEMUNDO_WORDS,
  SEMWAIT,
  SEMWAIT_N,
  SEMWAIT_WORDS,
  SEMWAIT_Z,
  SVPERM,
} from "../abi/layout/ipc.ts";
import { asTaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { TASK_LIVE } from "../abi/layout/mod.ts";
import { taskState } from "../sync/mod.ts";
import type { IpcUserBuf } from "./ipc_shm.ts";
import { IdTable, ipcGetExisting, ipcNow, putIpcPerm, putTime, setIpcPerm } from "./ipc_util.ts";
import { signalSleep, type TaskSignals } from "./signal_task.ts";

/** One operation of a semop call (struct sembuf). */
export interface SemOp {
  num: number;
  op: number;
  flg: number;
}

/** Where each part of the semaphore state lies. */
class SemState {
  readonly t: IdTable;
  readonly k: Int32Array;
  readonly pool: number;
  readonly undo: number;
  readonly wait: number;

  constructor(readonly mem: Memory) {
    const p = ipcParts(mem.layout.config, ICACHE_SLOTS);
    const base = mem.layout.ipc.base;
    this.t = new IdTable(mem, base + p.sem, SEM_IDS, SEMID_WORDS);
    this.k = mem.k32;
    this.pool = base + p.semPool;
    this.undo = base + p.semUndo;
    this.wait = base + p.semWait;
  }

  /** Word index of semaphore `n` of the set at record `r`. */
  sem(r: number, n: number): number {
    return this.pool + (this.k[r + SEMID.base]! + n) * SEM_WORDS;
  }
  undoRec(i: number): number {
    return this.undo + i * SEMUNDO_WORDS;
  }
  waitRec(tid: number): number {
    return this.wait + tid * SEMWAIT_WORDS;
  }
}

/** The semaphore state of `mem`. */
export const semState = (mem: Memory): SemState => new SemState(mem);

/**
 * A free run of `n` semaphores in the pool (first fit between the live
 * sets). Lock held.
 *
 * @returns the first index, or -1
 */
function poolAlloc(s: SemState, n: number): number {
  const used: [number, number][] = [];
  for (let i = 0; i < SEM_IDS; i++) {
    const r = s.t.rec(i);
    if (s.k[r + SVPERM.state] !== 0) used.push([s.k[r + SEMID.base]!, s.k[r + SEMID.nsems]!]);
  }
  used.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, len] of used) {
    if (b - at >= n) return at;
    at = Math.max(at, b + len);
  }
  return SEM_POOL - at >= n ? at : -1;
}

/**
 * semget(key, nsems, semflg) (ksys_semget).
 *
 * @returns the id, or -EINVAL (nsems out of 0..SEMMSL, 0 for a new set, or
 *   more than an existing set has), -EEXIST, -ENOENT, -ENOSPC
 */
export function semGet(mem: Memory, key: number, nsems: number, flg: number): number {
  const s = semState(mem);
  if (nsems < 0 || nsems > SEMMSL) return -EINVAL;
  return s.t.locked(() => {
    const got = ipcGetExisting(
      s.t,
      key,
      flg,
      (idx) => nsems > s.k[s.t.rec(idx) + SEMID.nsems]! ? -EINVAL : 0,
    );
    if (got !== null) return got;
    if (nsems === 0) return -EINVAL;
    const base = poolAlloc(s, nsems);
    if (base < 0) return -ENOSPC;
    const idx = s.t.add(key, flg);
    if (idx < 0) return idx;
    const r = s.t.rec(idx);
    s.k[r + SEMID.nsems] = nsems;
    s.k[r + SEMID.base] = base;
    for (let n = 0; n < nsems; n++) s.k.fill(0, s.sem(r, n), s.sem(r, n) + SEM_WORDS);
    return s.t.idOf(idx);
  });
}

/** The undo entry of (owner, semid, semnum), or -1. Lock held. */
function undoFind(s: SemState, owner: number, semid: number, num: number): number {
  for (let i = 0; i < SEM_UNDOS; i++) {
    const u = s.undoRec(i);
    if (
      s.k[u + SEMUNDO.owner] === owner && s.k[u + SEMUNDO.semid] === semid &&
      s.k[u + SEMUNDO.semnum] === num
    ) return i;
  }
  return -1;
}

/** The adjustment (owner, semid, semnum) carries now. Lock held. */
function undoAdj(s: SemState, owner: number, semid: number, num: number): number {
  const i = undoFind(s, owner, semid, num);
  return i < 0 ? 0 : s.k[s.undoRec(i) + SEMUNDO.adj]!;
}

/**
 * Whether `n` undo entries are free. Lock held. Stops at the n-th: a scan
 * of the whole table on every semop cost it 40 µs (ipc_compare.ts).
 */
function undoRoom(s: SemState, n: number): boolean {
  for (let i = 0; i < SEM_UNDOS && n > 0; i++) if (s.k[s.undoRec(i) + SEMUNDO.owner] === 0) n--;
  return n === 0;
}

/** Add `delta` to (owner, semid, semnum)'s adjustment, making the entry. Lock held; room checked. */
function undoAdd(s: SemState, owner: number, semid: number, num: number, delta: number): void {
  let i = undoFind(s, owner, semid, num);
  if (i < 0) {
    for (i = 0; s.k[s.undoRec(i) + SEMUNDO.owner] !== 0; i++);
    const u = s.undoRec(i);
    s.k[u + SEMUNDO.semid] = semid;
    s.k[u + SEMUNDO.semnum] = num;
    s.k[u + SEMUNDO.adj] = 0;
    s.k[u + SEMUNDO.owner] = owner;
  }
  const u = s.undoRec(i);
  const adj = s.k[u + SEMUNDO.adj]! + delta;
  if (adj === 0) s.k[u + SEMUNDO.owner] = 0;
  else s.k[u + SEMUNDO.adj] = adj;
}

/** Drop every undo entry of set `semid` (or only of semaphore `num` when given), for all processes. */
function undoClear(s: SemState, semid: number, num = -1): void {
  for (let i = 0; i < SEM_UNDOS; i++) {
    const u = s.undoRec(i);
    if (
      s.k[u + SEMUNDO.owner] !== 0 && s.k[u + SEMUNDO.semid] === semid &&
      (num < 0 || s.k[u + SEMUNDO.semnum] === num)
    ) s.k[u + SEMUNDO.owner] = 0;
  }
}

/** What one attempt at a semop found. */
type Attempt =
  | { done: number }
  | { block: { num: number; kind: number; seen: number } };

/**
 * Try `ops` on the set at index `idx` atomically (perform_atomic_semop):
 * apply all, or block on the first that cannot proceed, or fail. Lock held.
 */
function attempt(s: SemState, idx: number, ops: SemOp[], pid: number): Attempt {
  const k = s.k;
  const r = s.t.rec(idx);
  const semid = s.t.idOf(idx);
  const nsems = k[r + SEMID.nsems]!;
  const vals = new Map<number, number>();
  const adj = new Map<number, number>();
  let undoNew = 0;
  for (const o of ops) {
    if (o.num >= nsems) return { done: -EFBIG };
    const cur = vals.get(o.num) ?? k[s.sem(r, o.num) + SEM.val]!;
    let next = cur;
    if (o.op === 0) {
      if (cur !== 0) return blockOr(o, SEMWAIT_Z, k[r + SVPERM.event]!);
    } else {
      next = cur + o.op;
      if (next < 0) return blockOr(o, SEMWAIT_N, k[r + SVPERM.event]!);
      if (next > SEMVMX) return { done: -ERANGE };
      if ((o.flg & SEM_UNDO) !== 0) {
        const before = adj.get(o.num) ?? undoAdj(s, pid, semid, o.num);
        const after = before - o.op;
        if (after < -SEMAEM - 1 || after > SEMAEM) return { done: -ERANGE };
        if (!adj.has(o.num) && before === 0) undoNew++;
        adj.set(o.num, after);
      }
    }
    vals.set(o.num, next);
  }
  if (undoNew > 0 && !undoRoom(s, undoNew)) return { done: -ENOMEM };
  let changed = false;
  for (const [num, v] of vals) {
    const w = s.sem(r, num);
    if (k[w + SEM.val] !== v) changed = true;
    k[w + SEM.val] = v;
    k[w + SEM.pid] = pid;
  }
  for (const [num, a] of adj) undoAdd(s, pid, semid, num, a - undoAdj(s, pid, semid, num));
  k[r + SEMID.otime] = ipcNow();
  if (changed) s.t.wake(idx);
  return { done: 0 };
}

function blockOr(o: SemOp, kind: number, seen: number): Attempt {
  if ((o.flg & IPC_NOWAIT) !== 0) return { done: -EAGAIN };
  return { block: { num: o.num, kind, seen } };
}

/** Decode `n` struct sembuf from `raw`. */
export function decodeSemOps(raw: Uint8Array, n: number): SemOp[] {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const ops: SemOp[] = [];
  for (let i = 0; i < n; i++) {
    const at = i * SEMBUF_BYTES;
    ops.push({
      num: dv.getUint16(at + SEMBUF.num, true),
      op: dv.getInt16(at + SEMBUF.op, true),
      flg: dv.getInt16(at + SEMBUF.flg, true),
    });
  }
  return ops;
}

/** Who is calling semop: its task (for the sleep and SEMWAIT) and process. */
export interface SemCaller {
  readonly mem: Memory;
  readonly tid: number;
  /** The process: owner of undo entries and the sempid written. */
  readonly pid: number;
  readonly sig: TaskSignals;
}

/**
 * semop / semtimedop (do_semtimedop). `timeoutMs` null: wait as long as it
 * takes. Entry: no lock held; killable while it sleeps.
 *
 * @returns 0, or -EINVAL (bad id or nsops < 1), -E2BIG (nsops > SEMOPM),
 *   -EFBIG (semaphore number out of range), -ERANGE, -EAGAIN (IPC_NOWAIT,
 *   or the timeout passed), -EIDRM (removed while waiting), -EINTR (a
 *   signal), -ENOMEM (no undo entry left)
 */
export function semTimedOp(
  who: SemCaller,
  id: number,
  ops: SemOp[],
  timeoutMs: number | null,
): number {
  if (ops.length < 1) return -EINVAL;
  if (ops.length > SEMOPM) return -E2BIG;
  const s = semState(who.mem);
  const deadline = timeoutMs === null ? null : performance.now() + timeoutMs;
  const wr = s.waitRec(who.tid);
  let slept = false;
  let idx = -1;
  for (;;) {
    const a = s.t.locked((): Attempt | number => {
      s.k[wr + SEMWAIT.semid] = 0;
      idx = s.t.lookup(id);
      if (idx < 0) return slept ? -EIDRM : -EINVAL;
      const got = attempt(s, idx, ops, who.pid);
      if ("block" in got) {
        s.k[wr + SEMWAIT.semnum] = got.block.num;
        s.k[wr + SEMWAIT.kind] = got.block.kind;
        s.k[wr + SEMWAIT.semid] = id + 1;
      }
      return got;
    });
    if (typeof a === "number") return a;
    if ("done" in a) return a.done;
    const left = deadline === null ? null : Math.max(0, deadline - performance.now());
    const why = left === 0
      ? "timeout"
      : signalSleep(who.sig, s.k, s.t.rec(idx) + SVPERM.event, a.block.seen, left);
    Atomics.store(s.k, wr + SEMWAIT.semid, 0);
    if (why === "signal") return -EINTR;
    if (why === "timeout") return -EAGAIN;
    slept = true;
  }
}

/** Tasks blocked on (semid, num) for `kind` (count_semcnt). Lock held. */
function countWaiters(s: SemState, semid: number, num: number, kind: number): number {
  let n = 0;
  for (let tid = 1; tid < s.mem.layout.config.maxTasks; tid++) {
    const w = s.waitRec(tid);
    if (s.k[w + SEMWAIT.semid] !== semid + 1) continue;
    if (s.k[w + SEMWAIT.semnum] !== num || s.k[w + SEMWAIT.kind] !== kind) continue;
    if (taskState(s.k, asTaskSlot(tid)) === TASK_LIVE) n++;
  }
  return n;
}

/**
 * semctl(semid, semnum, cmd, arg) (ksys_semctl, IPC_64 layouts). `arg` is
 * the union semun: `val` for SETVAL, `buf` for the array and struct
 * commands. Entry: no lock held. Takes and drops the sem IPC lock (twice for
 * SETALL: to size the array, then to set it); `buf` is copied outside it
 * (mmap_lock for reading).
 *
 * @returns the command's value (GETVAL, GETPID, GETNCNT, GETZCNT, the id for
 *   SEM_STAT*, the highest index for *_INFO) or 0, or -EINVAL, -ERANGE
 *   (SETVAL/SETALL out of 0..SEMVMX), -EIDRM, -EFAULT
 */
export function semCtl(
  mem: Memory,
  pid: number,
  id: number,
  num: number,
  cmd: number,
  val: number,
  buf: IpcUserBuf,
): number {
  const s = semState(mem);
  const k = s.k;
  if (id < 0 || cmd < 0 || (cmd & IPC_64) !== 0) return -EINVAL;
  switch (cmd) {
    case IPC_INFO:
    case SEM_INFO: {
      const out = new Uint8Array(SEMINFO_BYTES);
      const dv = new DataView(out.buffer);
      const max = s.t.locked(() => {
        let sems = 0;
        for (let i = 0; i < SEM_IDS; i++) {
          if (s.t.lookup(s.t.idOf(i)) >= 0) sems += k[s.t.rec(i) + SEMID.nsems]!;
        }
        // semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
        // SEM_INFO reports sets in use as semusz and semaphores in use as semaem.
        const info = [
          SEM_POOL,
          SEM_IDS,
          SEM_POOL,
          SEM_UNDOS,
          SEMMSL,
          SEMOPM,
          SEMOPM,
          20,
          SEMVMX,
          SEMAEM,
        ];
        if (cmd === SEM_INFO) info[7] = s.t.inUse(), info[9] = sems;
        info.forEach((v, i) => dv.setInt32(i * 4, v, true));
        return s.t.maxIdx();
      });
      const w = buf.write(out);
      return w < 0 ? w : Math.max(0, max);
    }
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY: {
      const out = new Uint8Array(SEMID64_BYTES);
      const dv = new DataView(out.buffer);
      const ret = s.t.locked(() => {
        const idx = cmd === IPC_STAT
          ? s.t.lookup(id)
          : s.t.lookup(id < SEM_IDS ? s.t.idOf(id) : -1);
        if (idx < 0) return -EINVAL;
        const r = s.t.rec(idx);
        putIpcPerm(k, r, dv, SEMID64.perm);
        putTime(dv, SEMID64.otime, k[r + SEMID.otime]!);
        putTime(dv, SEMID64.ctime, k[r + SVPERM.ctime]!);
        dv.setUint32(SEMID64.nsems, k[r + SEMID.nsems]!, true);
        return cmd === IPC_STAT ? 0 : s.t.idOf(idx);
      });
      if (ret < 0) return ret;
      const w = buf.write(out);
      return w < 0 ? w : ret;
    }
    case IPC_SET: {
      const raw = buf.read(SEMID64_BYTES);
      if (typeof raw === "number") return raw;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return s.t.locked(() => {
        const idx = s.t.lookup(id);
        if (idx < 0) return -EINVAL;
        setIpcPerm(k, s.t.rec(idx), dv, SEMID64.perm);
        return 0;
      });
    }
    case IPC_RMID:
      return s.t.locked(() => {
        const idx = s.t.lookup(id);
        if (idx < 0) return -EINVAL;
        undoClear(s, id);
        s.t.remove(idx); // wakes the sleepers: they find the id gone (EIDRM)
        return 0;
      });
    case GETALL: {
      const vals = s.t.locked(() => {
        const idx = s.t.lookup(id);
        if (idx < 0) return -EINVAL;
        const r = s.t.rec(idx);
        const n = k[r + SEMID.nsems]!;
        const out = new Uint8Array(n * 2);
        const dv = new DataView(out.buffer);
        for (let i = 0; i < n; i++) dv.setUint16(i * 2, k[s.sem(r, i) + SEM.val]!, true);
        return out;
      });
      return typeof vals === "number" ? vals : buf.write(vals);
    }
    case SETALL: {
      const n = s.t.locked(() => {
        const idx = s.t.lookup(id);
        return idx < 0 ? -EINVAL : k[s.t.rec(idx) + SEMID.nsems]!;
      });
      if (n < 0) return n;
      const raw = buf.read(n * 2);
      if (typeof raw === "number") return raw;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) if (dv.getUint16(i * 2, true) > SEMVMX) return -ERANGE;
      return s.t.locked(() => {
        const idx = s.t.lookup(id);
        if (idx < 0) return -EIDRM;
        const r = s.t.rec(idx);
        for (let i = 0; i < n; i++) {
          k[s.sem(r, i) + SEM.val] = dv.getUint16(i * 2, true);
          k[s.sem(r, i) + SEM.pid] = pid;
        }
        undoClear(s, id);
        k[r + SVPERM.ctime] = ipcNow();
        s.t.wake(idx);
        return 0;
      });
    }
    case GETVAL:
    case GETPID:
    case GETNCNT:
    case GETZCNT:
    case SETVAL:
      return s.t.locked(() => {
        const idx = s.t.lookup(id);
        if (idx < 0) return -EINVAL;
        const r = s.t.rec(idx);
        if (num < 0 || num >= k[r + SEMID.nsems]!) return -EINVAL;
        const w = s.sem(r, num);
        switch (cmd) {
          case GETVAL:
            return k[w + SEM.val]!;
          case GETPID:
            return k[w + SEM.pid]!;
          case GETNCNT:
            return countWaiters(s, id, num, SEMWAIT_N);
          case GETZCNT:
            return countWaiters(s, id, num, SEMWAIT_Z);
        }
        if (val < 0 || val > SEMVMX) return -ERANGE;
        k[w + SEM.val] = val;
        k[w + SEM.pid] = pid;
        undoClear(s, id, num);
        k[r + SVPERM.ctime] = ipcNow();
        s.t.wake(idx);
        return 0;
      });
    default:
      return -EINVAL;
  }
}

/**
 * Apply and drop every undo entry of process `pid` (exit_sem): each
 * semaphore still there gets its adjustment, clamped to 0..SEMVMX as
 * Linux clamps it, and its sets' sleepers are woken. Called when the
 * process's last task exits, by its own thread or by the Machine for a
 * process whose Worker died. Takes the sem lock.
 */
export function semExit(mem: Memory, pid: number): void {
  const s = semState(mem);
  const k = s.k;
  s.t.locked(() => {
    for (let i = 0; i < SEM_UNDOS; i++) {
      const u = s.undoRec(i);
      if (k[u + SEMUNDO.owner] !== pid) continue;
      k[u + SEMUNDO.owner] = 0;
      const idx = s.t.lookup(k[u + SEMUNDO.semid]!);
      if (idx < 0) continue;
      const r = s.t.rec(idx);
      const num = k[u + SEMUNDO.semnum]!;
      if (num >= k[r + SEMID.nsems]!) continue;
      const w = s.sem(r, num);
      k[w + SEM.val] = Math.min(SEMVMX, Math.max(0, k[w + SEM.val]! + k[u + SEMUNDO.adj]!));
      k[w + SEM.pid] = pid;
      k[r + SEMID.otime] = ipcNow();
      s.t.wake(idx);
    }
  });
}

/**
 * Forget task `tid`'s semop wait record (a task killed in its sleep). Any
 * thread; no lock needed (only the task itself and this clear write it).
 */
export function semExitTask(mem: Memory, tid: number): void {
  Atomics.store(mem.k32, semState(mem).waitRec(tid) + SEMWAIT.semid, 0);
}

/**
 * Remove every set (machine shutdown). Main thread. Entry: no lock held;
 * takes and drops the sem IPC lock.
 */
export function semTeardown(mem: Memory): void {
  const s = semState(mem);
  s.t.locked(() => {
    for (let i = 0; i < SEM_IDS; i++) {
      const id = s.t.idOf(i);
      if (s.t.lookup(id) < 0) continue;
      undoClear(s, id);
      s.t.remove(i);
    }
  });
}
