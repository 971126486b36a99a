/**
 * Open files and fd tables in shared memory (region `files`, FILES/FILE/FDT
 * in src/abi/layout/mod.ts): Linux's struct file and files_struct, reduced.
 *
 * An open-file record is shared machine-wide: after dup, or when a process
 * table is inherited, two fds (in one table or several) name one record and
 * share its position and flags. A fd table belongs to one process. Both are
 * plain words, so the Machine's main thread can walk a dead process's table
 * and close its files with the same calls the process would have made.
 *
 * Reference rule: a record's refcount counts the fd words naming it plus
 * the calls in flight that looked it up (`fdGet`), so a close racing a read
 * on the same fd never frees the record under the reader. The thread that
 * drops the last reference releases the inode (the caller of `filePut`).
 *
 * Locks: FILES.lock (claiming a free record) and each table's FDT.lock
 * (installing, clearing or reading fd words) are FILE_TABLE-class leaves:
 * held for a few word operations, never across a call into the filesystem.
 *
 * @module
 */

import {
  FDT,
  FDT_CLOEXEC_BIT,
  FDT_FDS,
  fdtBase,
  fdtMax,
  FILE,
  fileBase,
  FILES,
  FILES_MAX,
} from "../abi/layout/mod.ts";
import { EBADF, EMFILE, ENFILE } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { Memory } from "../hw/memory.ts";
import { LockClass } from "../sync/lockdep.ts";
import { mutexLock, mutexUnlock } from "../sync/mutex.ts";
import { asInodeSlot, type InodeSlot } from "../abi/types.ts";

/** The fields of an open-file record. */
export interface OpenFile {
  /** Record index. */
  idx: number;
  ino: number;
  islot: InodeSlot;
  flags: number;
}

const FD_INDEX_MASK = FDT_CLOEXEC_BIT - 1;

const recBase = (mem: Memory, idx: number): number => fileBase(mem.layout.files.base, idx);
const tableBase = (mem: Memory, fdt: number): number => fdtBase(mem.layout.files.base, fdt);

function checkFdt(mem: Memory, fdt: number, where: string): void {
  if (!Number.isInteger(fdt) || fdt < 0 || fdt >= fdtMax(mem.layout.config)) {
    throw new KernelPanic(where, `fd table ${fdt} out of range`);
  }
}

// ---------------------------------------------------------------------------
// open-file records

/**
 * Claim a free open-file record for inode (ino, islot) with `flags`, with
 * one reference and position 0. Entry: no FILE_TABLE or TASK_TABLE lock held
 * (the table lock is a leaf; anything outer may be). Takes and drops
 * FILES.lock (FILE_TABLE).
 *
 * @returns the record index, or -ENFILE when the table is full
 */
export function fileAlloc(mem: Memory, ino: number, islot: InodeSlot, flags: number): number {
  const { k32, k64 } = mem;
  const lw = mem.layout.files.base + FILES.lock;
  mutexLock(k32, lw, LockClass.FILE_TABLE);
  try {
    for (let idx = 0; idx < FILES_MAX; idx++) {
      const r = recBase(mem, idx);
      if (Atomics.load(k32, r + FILE.refcount) !== 0) continue;
      Atomics.store(k32, r + FILE.ino, ino);
      Atomics.store(k32, r + FILE.islot, islot);
      Atomics.store(k32, r + FILE.flags, flags);
      Atomics.store(k64, (r + FILE.pos) / 2, 0n);
      Atomics.store(k32, r + FILE.refcount, 1); // publishes the fields above
      Atomics.add(k32, mem.layout.files.base + FILES.nrFiles, 1);
      return idx;
    }
    return -ENFILE;
  } finally {
    mutexUnlock(k32, lw);
  }
}

/** The fields of record `idx`. Caller holds a reference. */
export function fileRead(mem: Memory, idx: number): OpenFile {
  const r = recBase(mem, idx);
  return {
    idx,
    ino: Atomics.load(mem.k32, r + FILE.ino),
    islot: asInodeSlot(Atomics.load(mem.k32, r + FILE.islot)),
    flags: Atomics.load(mem.k32, r + FILE.flags),
  };
}

/** Replace the flags of record `idx` (fcntl F_SETFL). Caller holds a reference. */
export function fileSetFlags(mem: Memory, idx: number, flags: number): void {
  Atomics.store(mem.k32, recBase(mem, idx) + FILE.flags, flags);
}

/** Take another reference on record `idx`; the caller already holds one. */
export function fileGet(mem: Memory, idx: number): void {
  const old = Atomics.add(mem.k32, recBase(mem, idx) + FILE.refcount, 1);
  if (old <= 0) throw new KernelPanic("fileGet", `open file ${idx} has refcount ${old}`);
}

/**
 * Drop a reference on record `idx`. When it was the last one the record is
 * free on return, and the caller gets its fields to release the inode.
 *
 * @returns the record's fields when this dropped the last reference, else null
 */
export function filePut(mem: Memory, idx: number): OpenFile | null {
  const r = recBase(mem, idx);
  const f = fileRead(mem, idx); // read before the record can be reclaimed
  const old = Atomics.sub(mem.k32, r + FILE.refcount, 1);
  if (old <= 0) throw new KernelPanic("filePut", `open file ${idx} had refcount ${old}`);
  if (old !== 1) return null;
  Atomics.sub(mem.k32, mem.layout.files.base + FILES.nrFiles, 1);
  return f;
}

/** References on record `idx` (0 = free). For tests and the Machine. */
export function fileRefcount(mem: Memory, idx: number): number {
  return Atomics.load(mem.k32, recBase(mem, idx) + FILE.refcount);
}

/** Open-file records in use machine-wide. */
export function filesInUse(mem: Memory): number {
  return Atomics.load(mem.k32, mem.layout.files.base + FILES.nrFiles);
}

/** The position of record `idx`. Never torn: one 64-bit atomic load. */
export function filePos(mem: Memory, idx: number): number {
  return Number(Atomics.load(mem.k64, (recBase(mem, idx) + FILE.pos) / 2));
}

/** Set the position of record `idx`. */
export function fileSetPos(mem: Memory, idx: number, pos: number): void {
  Atomics.store(mem.k64, (recBase(mem, idx) + FILE.pos) / 2, BigInt(pos));
}

// ---------------------------------------------------------------------------
// fd tables

/**
 * Claim a free fd table for a new process, with no fds and `cwd` as its
 * current directory. Lock-free (a CAS on FDT.inUse).
 *
 * @returns the table index, or -EMFILE when every table is taken
 */
export function fdtAlloc(mem: Memory, cwd: number): number {
  for (let t = 0; t < fdtMax(mem.layout.config); t++) {
    const b = tableBase(mem, t);
    if (Atomics.compareExchange(mem.k32, b + FDT.inUse, 0, 1) !== 0) continue;
    for (let fd = 0; fd < FDT_FDS; fd++) Atomics.store(mem.k32, b + FDT.fds + fd, 0);
    Atomics.store(mem.k32, b + FDT.nrOpen, 0);
    Atomics.store(mem.k32, b + FDT.cwd, cwd);
    Atomics.store(mem.k32, b + FDT.nofile, FDT_FDS);
    Atomics.store(mem.k32, b + FDT.nofileMax, FDT_FDS);
    return t;
  }
  return -EMFILE;
}

/**
 * A new fd table naming the same open files as `fdt`, fd for fd, with the
 * same close-on-exec bits and current directory (Linux's dup_fd, for a fork
 * without CLONE_FILES): each open file gains one reference per fd. Entry: no
 * FILE_TABLE or TASK_TABLE lock held (a leaf); takes and drops `fdt`'s lock
 * (FILE_TABLE).
 *
 * @returns the new table's index, or -EMFILE when every table is taken
 */
export function fdtDup(mem: Memory, fdt: number): number {
  const t = fdtAlloc(mem, fdtCwd(mem, fdt));
  if (t < 0) return t;
  const nb = tableBase(mem, t);
  withTable(mem, fdt, (b) => {
    let open = 0;
    for (let fd = 0; fd < FDT_FDS; fd++) {
      const w = mem.k32[b + FDT.fds + fd]!;
      if (w === 0) continue;
      fileGet(mem, (w & FD_INDEX_MASK) - 1);
      Atomics.store(mem.k32, nb + FDT.fds + fd, w);
      open++;
    }
    Atomics.store(mem.k32, nb + FDT.nrOpen, open);
    // The child inherits RLIMIT_NOFILE (fork copies rlimits).
    Atomics.store(mem.k32, nb + FDT.nofile, mem.k32[b + FDT.nofile]!);
    Atomics.store(mem.k32, nb + FDT.nofileMax, mem.k32[b + FDT.nofileMax]!);
  });
  return t;
}

/**
 * One more user of fd table `fdt` (a thread made with CLONE_FILES shares
 * its creator's table, Linux's files_struct count). Entry: the caller is a
 * user already.
 */
export function fdtGet(mem: Memory, fdt: number): void {
  checkFdt(mem, fdt, "fdtGet");
  const old = Atomics.add(mem.k32, tableBase(mem, fdt) + FDT.inUse, 1);
  if (old <= 0) throw new KernelPanic("fdtGet", `fd table ${fdt} has ${old} users`);
}

/**
 * Drop a user of fd table `fdt` unless it is the last one (put_files_struct).
 *
 * @returns true when others still use the table (done); false when the
 *   caller is the last user: it must close every fd and fdtFree the table
 */
export function fdtPutShared(mem: Memory, fdt: number): boolean {
  checkFdt(mem, fdt, "fdtPutShared");
  const w = tableBase(mem, fdt) + FDT.inUse;
  for (let n = Atomics.load(mem.k32, w); n > 1; n = Atomics.load(mem.k32, w)) {
    if (Atomics.compareExchange(mem.k32, w, n, n - 1) === n) return true;
  }
  return false;
}

/** Free fd table `fdt`. Entry: every fd of it is closed (fdtCloseAll). */
export function fdtFree(mem: Memory, fdt: number): void {
  checkFdt(mem, fdt, "fdtFree");
  const b = tableBase(mem, fdt);
  if (Atomics.load(mem.k32, b + FDT.nrOpen) !== 0) {
    throw new KernelPanic("fdtFree", `fd table ${fdt} still has open fds`);
  }
  Atomics.store(mem.k32, b + FDT.inUse, 0);
}

/** Whether fd table `fdt` belongs to a process. */
export function fdtInUse(mem: Memory, fdt: number): boolean {
  checkFdt(mem, fdt, "fdtInUse");
  return Atomics.load(mem.k32, tableBase(mem, fdt) + FDT.inUse) > 0;
}

/** The current directory's inode number of table `fdt`. */
export function fdtCwd(mem: Memory, fdt: number): number {
  return Atomics.load(mem.k32, tableBase(mem, fdt) + FDT.cwd);
}

/** Set the current directory of table `fdt` (chdir). */
export function fdtSetCwd(mem: Memory, fdt: number, ino: number): void {
  Atomics.store(mem.k32, tableBase(mem, fdt) + FDT.cwd, ino);
}

/** Open fds in table `fdt`. */
export function fdtNrOpen(mem: Memory, fdt: number): number {
  return Atomics.load(mem.k32, tableBase(mem, fdt) + FDT.nrOpen);
}

function withTable<T>(mem: Memory, fdt: number, fn: (b: number) => T): T {
  checkFdt(mem, fdt, "fdtLock");
  const b = tableBase(mem, fdt);
  mutexLock(mem.k32, b + FDT.lock, LockClass.FILE_TABLE);
  try {
    return fn(b);
  } finally {
    mutexUnlock(mem.k32, b + FDT.lock);
  }
}

/**
 * The RLIMIT_NOFILE of table `fdt`: [soft, hard].
 */
export function fdtNofile(mem: Memory, fdt: number): [number, number] {
  checkFdt(mem, fdt, "fdtNofile");
  const b = tableBase(mem, fdt);
  return [Atomics.load(mem.k32, b + FDT.nofile), Atomics.load(mem.k32, b + FDT.nofileMax)];
}

/**
 * Set the RLIMIT_NOFILE of table `fdt` (setrlimit). Open fds at or above a
 * lowered limit stay open, as on Linux; only new ones are refused.
 * Entry: 0 <= soft <= hard <= FDT_FDS (the caller checked).
 */
export function fdtSetNofile(mem: Memory, fdt: number, soft: number, hard: number): void {
  withTable(mem, fdt, (b) => {
    Atomics.store(mem.k32, b + FDT.nofile, soft);
    Atomics.store(mem.k32, b + FDT.nofileMax, hard);
  });
}

/**
 * Install open-file record `idx` at the lowest free fd >= `minFd` and below
 * the table's RLIMIT_NOFILE (the caller's reference moves into the fd
 * word). Entry: no FILE_TABLE or TASK_TABLE lock held; takes and drops the
 * table's lock (FILE_TABLE).
 *
 * @returns the fd, or -EMFILE when none is free (the caller still owns its
 *   reference)
 */
export function fdInstall(
  mem: Memory,
  fdt: number,
  idx: number,
  cloexec: boolean,
  minFd = 0,
): number {
  return withTable(mem, fdt, (b) => {
    const limit = Math.min(FDT_FDS, mem.k32[b + FDT.nofile]!);
    for (let fd = minFd; fd < limit; fd++) {
      if (mem.k32[b + FDT.fds + fd] !== 0) continue;
      Atomics.store(mem.k32, b + FDT.fds + fd, (idx + 1) | (cloexec ? FDT_CLOEXEC_BIT : 0));
      Atomics.add(mem.k32, b + FDT.nrOpen, 1);
      return fd;
    }
    return -EMFILE;
  });
}

/**
 * Put record `idx` at `fd` (dup2), taking the fd word over. The caller's
 * reference moves into the fd word. Entry: no FILE_TABLE or TASK_TABLE lock
 * held; takes and drops the table's lock (FILE_TABLE).
 *
 * @returns the record that `fd` named before (the caller puts it), -1 if none, or
 *   -EBADF (also for a fd at or above RLIMIT_NOFILE, as Linux's dup2)
 */
export function fdReplace(mem: Memory, fdt: number, fd: number, idx: number, cloexec: boolean) {
  if (!Number.isInteger(fd) || fd < 0 || fd >= FDT_FDS) return -EBADF;
  return withTable(mem, fdt, (b) => {
    if (fd >= mem.k32[b + FDT.nofile]!) return -EBADF;
    const old = mem.k32[b + FDT.fds + fd]!;
    Atomics.store(mem.k32, b + FDT.fds + fd, (idx + 1) | (cloexec ? FDT_CLOEXEC_BIT : 0));
    if (old === 0) {
      Atomics.add(mem.k32, b + FDT.nrOpen, 1);
      return -1;
    }
    return (old & FD_INDEX_MASK) - 1;
  });
}

/**
 * Look up `fd` and take a reference on its open file (Linux's fdget). The
 * caller drops it with filePut. `noteRef`, if given, runs under the table
 * lock right after the reference is taken (the VFS records it there for a
 * killed task's recovery, src/sync/current.ts taskNote) and must take no lock.
 * Entry: no FILE_TABLE or TASK_TABLE lock held; takes and drops the table's
 * lock (FILE_TABLE).
 *
 * @returns the record index, or -EBADF
 */
export function fdGet(
  mem: Memory,
  fdt: number,
  fd: number,
  noteRef?: (idx: number) => void,
): number {
  if (!Number.isInteger(fd) || fd < 0 || fd >= FDT_FDS) return -EBADF;
  return withTable(mem, fdt, (b) => {
    const w = mem.k32[b + FDT.fds + fd]!;
    if (w === 0) return -EBADF;
    const idx = (w & FD_INDEX_MASK) - 1;
    fileGet(mem, idx);
    noteRef?.(idx);
    return idx;
  });
}

/**
 * Clear `fd` and hand its reference to the caller (who puts it). Entry: no
 * FILE_TABLE or TASK_TABLE lock held; takes and drops the table's lock
 * (FILE_TABLE).
 *
 * @returns the record index it named, or -EBADF
 */
export function fdRemove(mem: Memory, fdt: number, fd: number): number {
  if (!Number.isInteger(fd) || fd < 0 || fd >= FDT_FDS) return -EBADF;
  return withTable(mem, fdt, (b) => {
    const w = mem.k32[b + FDT.fds + fd]!;
    if (w === 0) return -EBADF;
    Atomics.store(mem.k32, b + FDT.fds + fd, 0);
    Atomics.sub(mem.k32, b + FDT.nrOpen, 1);
    return (w & FD_INDEX_MASK) - 1;
  });
}

/**
 * Whether `fd` is close-on-exec; -EBADF when closed. Entry: no FILE_TABLE
 * lock held; takes and drops the table's lock.
 */
export function fdGetCloexec(mem: Memory, fdt: number, fd: number): boolean | number {
  if (!Number.isInteger(fd) || fd < 0 || fd >= FDT_FDS) return -EBADF;
  return withTable(mem, fdt, (b) => {
    const w = mem.k32[b + FDT.fds + fd]!;
    return w === 0 ? -EBADF : (w & FDT_CLOEXEC_BIT) !== 0;
  });
}

/**
 * Set or clear close-on-exec on `fd`. Entry: no FILE_TABLE lock held; takes
 * and drops the table's lock.
 *
 * @returns 0 or -EBADF
 */
export function fdSetCloexec(mem: Memory, fdt: number, fd: number, on: boolean): number {
  if (!Number.isInteger(fd) || fd < 0 || fd >= FDT_FDS) return -EBADF;
  return withTable(mem, fdt, (b) => {
    const w = mem.k32[b + FDT.fds + fd]!;
    if (w === 0) return -EBADF;
    Atomics.store(mem.k32, b + FDT.fds + fd, on ? w | FDT_CLOEXEC_BIT : w & FD_INDEX_MASK);
    return 0;
  });
}

/**
 * Clear every close-on-exec fd of table `fdt` (execve) and hand their
 * references to the caller, who puts each. Entry: no FILE_TABLE lock held;
 * takes and drops the table's lock.
 *
 * @returns the open-file records the cleared fds named
 */
export function fdtTakeCloexec(mem: Memory, fdt: number): number[] {
  return withTable(mem, fdt, (b) => {
    const out: number[] = [];
    for (let fd = 0; fd < FDT_FDS; fd++) {
      const w = mem.k32[b + FDT.fds + fd]!;
      if (w === 0 || (w & FDT_CLOEXEC_BIT) === 0) continue;
      Atomics.store(mem.k32, b + FDT.fds + fd, 0);
      Atomics.sub(mem.k32, b + FDT.nrOpen, 1);
      out.push((w & FD_INDEX_MASK) - 1);
    }
    return out;
  });
}

/**
 * The open fds of table `fdt`, ascending (a snapshot). Entry: no FILE_TABLE
 * lock held; takes and drops the table's lock.
 */
export function fdtOpenFds(mem: Memory, fdt: number): number[] {
  return withTable(mem, fdt, (b) => {
    const fds: number[] = [];
    for (let fd = 0; fd < FDT_FDS; fd++) if (mem.k32[b + FDT.fds + fd] !== 0) fds.push(fd);
    return fds;
  });
}
