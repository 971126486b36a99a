/**
 * What the three System V IPC kinds share (Linux's ipc/util.c): one id
 * table per kind in the `ipc` region (layout/ipc.ts), ids built from a
 * sequence number and an index, keys, the ipc64_perm every *_STAT fills,
 * and the kind's lock.
 *
 * Ids. A new object takes the next free index after the last one handed
 * out, cyclically, below max(in_use * 3/2, 64) (Linux's ipc_idr_alloc with
 * idr_alloc_cyclic and ipc_min_cycle); the kind's seq is bumped when the
 * allocation wraps, and the id is seq * IPCMNI + index. So ids start at 0
 * and an id is not reused soon after its object is removed: a stale id
 * finds a different seq and fails with EINVAL (or EIDRM for a sleeper).
 *
 * Locking: the kind's SVHDR.lock (LockClass.IPC, a leaf) around every
 * read or change of its records. Callers run their whole locked section in
 * one no-kill region (svLocked): a kill in the middle would leave a
 * half-made change that no lock records.
 *
 * @module
 */

import { EEXIST, ENOENT, ENOSPC } from "../abi/errno.ts";
import { IPC64_PERM, IPC_CREAT, IPC_EXCL, IPC_PRIVATE, IPCMNI } from "../abi/ipc.ts";
import { SV_FREE, SV_LIVE, SVHDR, SVHDR_WORDS, SVPERM } from "../abi/layout/ipc.ts";
import type { Memory } from "../hw/memory.ts";
import { LockClass, mutexLock, mutexUnlock, withNoKill } from "../sync/mod.ts";

/** Seconds since the epoch, as the *_time fields count them. */
export const ipcNow = (): number => Math.floor(Date.now() / 1000);

/** Smallest index cycle (Linux's ipc_min_cycle, RADIX_TREE_MAP_SIZE). */
const IPC_MIN_CYCLE = 64;

/** One kind's id table: its header and records, as word indexes. */
export class IdTable {
  readonly k32: Int32Array;
  /** Word index of the SVHDR. */
  readonly hdr: number;

  /**
   * @param base word index of the kind's SVHDR (ipcParts)
   * @param slots records in the table
   * @param words words per record
   */
  constructor(readonly mem: Memory, base: number, readonly slots: number, readonly words: number) {
    this.k32 = mem.k32;
    this.hdr = base;
  }

  /** Word index of record `idx`. */
  rec(idx: number): number {
    return this.hdr + SVHDR_WORDS + idx * this.words;
  }

  /**
   * Run `fn` holding the kind's lock, as one no-kill region. Entry: no IPC
   * lock held.
   */
  locked<T>(fn: () => T): T {
    return withNoKill(() => {
      mutexLock(this.k32, this.hdr + SVHDR.lock, LockClass.IPC);
      try {
        return fn();
      } finally {
        mutexUnlock(this.k32, this.hdr + SVHDR.lock);
      }
    });
  }

  /** The id of live record `idx`. Lock held. */
  idOf(idx: number): number {
    return this.k32[this.rec(idx) + SVPERM.seq]! * IPCMNI + idx;
  }

  /**
   * The record an id names, if it is live (ipc_obtain_object_check).
   * Lock held.
   *
   * @returns the index, or -1 (no such id: the callers' EINVAL or EIDRM)
   */
  lookup(id: number): number {
    if (!Number.isInteger(id) || id < 0) return -1;
    const idx = id % IPCMNI;
    if (idx >= this.slots) return -1;
    const r = this.rec(idx);
    if (this.k32[r + SVPERM.state] !== SV_LIVE) return -1;
    return this.k32[r + SVPERM.seq] === Math.floor(id / IPCMNI) ? idx : -1;
  }

  /** The live record with `key`, or -1 (never for IPC_PRIVATE). Lock held. */
  findKey(key: number): number {
    if (key === IPC_PRIVATE) return -1;
    for (let i = 0; i < this.slots; i++) {
      const r = this.rec(i);
      if (this.k32[r + SVPERM.state] === SV_LIVE && this.k32[r + SVPERM.key] === key) return i;
    }
    return -1;
  }

  /**
   * Claim a record for a new object with `key` and permission bits `mode`
   * (ipc_addid), its perm filled in, every other word zero. Lock held.
   *
   * @returns the index, or -ENOSPC when the table is full
   */
  add(key: number, mode: number): number {
    const k = this.k32, h = this.hdr;
    const inUse = k[h + SVHDR.inUse]!;
    const max = Math.min(this.slots, Math.max(Math.floor(inUse * 3 / 2), IPC_MIN_CYCLE));
    const last = k[h + SVHDR.lastIdx]!;
    let idx = -1;
    for (let n = 0; n < max; n++) {
      const i = (last + 1 + n) % max;
      if (k[this.rec(i) + SVPERM.state] === SV_FREE) {
        idx = i;
        break;
      }
    }
    if (idx < 0) return -ENOSPC;
    if (idx <= last) k[h + SVHDR.seq] = (k[h + SVHDR.seq]! + 1) % 0x10000;
    k[h + SVHDR.lastIdx] = idx;
    k[h + SVHDR.inUse] = inUse + 1;
    const r = this.rec(idx);
    k.fill(0, r, r + this.words);
    k[r + SVPERM.key] = key;
    k[r + SVPERM.mode] = mode & 0o777;
    k[r + SVPERM.seq] = k[h + SVHDR.seq]!;
    k[r + SVPERM.ctime] = ipcNow();
    Atomics.store(k, r + SVPERM.state, SV_LIVE);
    return idx;
  }

  /** Free record `idx` and wake its sleepers (they find the id gone: EIDRM). Lock held. */
  remove(idx: number): void {
    const r = this.rec(idx);
    Atomics.store(this.k32, r + SVPERM.state, SV_FREE);
    this.k32[this.hdr + SVHDR.inUse]!--;
    this.wake(idx);
  }

  /** Bump record `idx`'s event word and wake whoever sleeps on it. */
  wake(idx: number): void {
    const w = this.rec(idx) + SVPERM.event;
    Atomics.add(this.k32, w, 1);
    Atomics.notify(this.k32, w);
  }

  /** Live records (in_use). */
  inUse(): number {
    return Atomics.load(this.k32, this.hdr + SVHDR.inUse);
  }

  /** The highest index in use, or -1 (the *_INFO calls' return value). Lock held. */
  maxIdx(): number {
    for (let i = this.slots - 1; i >= 0; i--) {
      if (this.k32[this.rec(i) + SVPERM.state] === SV_LIVE) return i;
    }
    return -1;
  }
}

/** Set the table's header to its boot state (lastIdx -1). Main thread, at boot. */
export function idTableInit(t: IdTable): void {
  Atomics.store(t.k32, t.hdr + SVHDR.lastIdx, -1);
}

/**
 * The get part of shmget/semget/msgget (ipcget): the existing object for
 * `key`, with IPC_CREAT|IPC_EXCL refused, or -ENOENT when there is none
 * and IPC_CREAT is absent, or null when a new object must be made. Lock held.
 *
 * @param check the kind's own test of an existing object (size, nsems): 0 or -errno
 */
export function ipcGetExisting(
  t: IdTable,
  key: number,
  flg: number,
  check: (idx: number) => number,
): number | null {
  if (key === IPC_PRIVATE) return null;
  const idx = t.findKey(key);
  if (idx < 0) return (flg & IPC_CREAT) !== 0 ? null : -ENOENT;
  if ((flg & (IPC_CREAT | IPC_EXCL)) === (IPC_CREAT | IPC_EXCL)) return -EEXIST;
  const bad = check(idx);
  return bad < 0 ? bad : t.idOf(idx);
}

/** Fill the struct ipc64_perm at `off` of `dv` from record `r` (its key, owner, mode, seq). */
export function putIpcPerm(k32: Int32Array, r: number, dv: DataView, off: number): void {
  dv.setInt32(off + IPC64_PERM.key, k32[r + SVPERM.key]!, true);
  dv.setUint32(off + IPC64_PERM.uid, k32[r + SVPERM.uid]!, true);
  dv.setUint32(off + IPC64_PERM.gid, k32[r + SVPERM.gid]!, true);
  dv.setUint32(off + IPC64_PERM.cuid, k32[r + SVPERM.cuid]!, true);
  dv.setUint32(off + IPC64_PERM.cgid, k32[r + SVPERM.cgid]!, true);
  dv.setUint32(off + IPC64_PERM.mode, k32[r + SVPERM.mode]!, true);
  dv.setUint16(off + IPC64_PERM.seq, k32[r + SVPERM.seq]!, true);
}

/** Take IPC_SET's uid, gid and permission bits from the ipc64_perm at `off` (ipc_update_perm). */
export function setIpcPerm(k32: Int32Array, r: number, dv: DataView, off: number): void {
  k32[r + SVPERM.uid] = dv.getUint32(off + IPC64_PERM.uid, true);
  k32[r + SVPERM.gid] = dv.getUint32(off + IPC64_PERM.gid, true);
  const mode = k32[r + SVPERM.mode]!;
  k32[r + SVPERM.mode] = (mode & ~0o777) | (dv.getUint32(off + IPC64_PERM.mode, true) & 0o777);
  k32[r + SVPERM.ctime] = ipcNow();
}

/** Store a time64 value as riscv32's split pair (low word, high word). */
export function putTime(dv: DataView, off: number, secs: number): void {
  dv.setUint32(off, secs >>> 0, true);
  dv.setUint32(off + 4, Math.floor(secs / 0x1_0000_0000), true);
}
