/**
 * System V shared memory (Linux's ipc/shm.c): shmget, shmat, shmdt, shmctl.
 *
 * A segment is a shmem inode of kind SHMEM_KIND_SYSV (src/fs/shmem.ts)
 * plus a SHMID record (layout/ipc.ts) holding its id, key, owner, times and
 * attach count. The record keeps one reference on the inode until the
 * segment is destroyed; each attach is a MAP_SHARED mapping of the inode
 * whose VmOperations (VMOPS_SYSV_SHM, shm_vm_ops) are shmem's fault plus
 * open/close that count attaches, so fork's copy of an attached VMA
 * counts too, and a munmap, shmdt or exit detaches. A segment is destroyed
 * once IPC_RMID has marked it (SHM_DEST, its key turned IPC_PRIVATE) and
 * its last attach has gone (shm_may_destroy); its memory lives until then.
 *
 * Locks: the shm table's lock (IdTable.locked, class IPC) around every
 * record read or change; never held across doMmap, doMunmap or an iput
 * (the record's reference is dropped after the lock).
 *
 * @module
 */

import { EINVAL, ENOSPC } from "../abi/errno.ts";
import { S_IFREG } from "../abi/fcntl.ts";
import {
  IPC_64,
  IPC_INFO,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  SHM_DEST,
  SHM_EXEC,
  SHM_INFO,
  SHM_INFO_BYTES,
  SHM_LOCK,
  SHM_LOCKED,
  SHM_RDONLY,
  SHM_REMAP,
  SHM_RND,
  SHM_STAT,
  SHM_STAT_ANY,
  SHM_UNLOCK,
  SHMALL,
  SHMID64,
  SHMID64_BYTES,
  SHMINFO_BYTES,
  SHMLBA,
  SHMMAX,
  SHMMIN,
} from "../abi/ipc.ts";
import { ICACHE_SLOTS } from "../abi/layout/mod.ts";
import { ipcParts, SHM_IDS, SHMEM_KIND_SYSV, SHMID, SHMID_WORDS } from "../abi/layout/ipc.ts";
import { MAP_FIXED, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from "../abi/mman.ts";
import {
  asIno,
  asInodeSlot,
  asVirt,
  type MmId,
  PAGE_SIZE,
  pageRoundUp,
  type VmaId,
} from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { vmaInode } from "../fs/dax_fault.ts";
import {
  shmemFault,
  shmemIhold,
  shmemInodeNew,
  shmemIput,
  shmemSize,
  shmiGet,
  shmiSet,
} from "../fs/shmem.ts";
import type { InodeRef, XipCtx } from "../fs/xipfs/xipfs_ctx.ts";
import { mmapReadLock, mmapReadUnlock, TASK_SIZE } from "../mm/mm.ts";
import { doMmap, doMunmap } from "../mm/mmap.ts";
import { rmapAddVma, rmapLockVma, rmapRemoveVma, rmapUnlockVma } from "../mm/rmap.ts";
import {
  findVma,
  findVmaIntersection,
  vmaEnd,
  vmaFile,
  vmaNext,
  vmaOpsId,
  vmaPgoff,
  vmaStart,
  type VmOperations,
  VMOPS_SYSV_SHM,
} from "../mm/vma.ts";
import { currentTid } from "../sync/mod.ts";
import { IdTable, ipcGetExisting, ipcNow, putIpcPerm, putTime, setIpcPerm } from "./ipc_util.ts";
import { procGet } from "./proc.ts";

/** The shm id table of `mem`. */
export function shmTable(mem: Memory): IdTable {
  const base = mem.layout.ipc.base + ipcParts(mem.layout.config, ICACHE_SLOTS).shm;
  return new IdTable(mem, base, SHM_IDS, SHMID_WORDS);
}

/** The process (thread group) this thread runs, its tgid (0 on the Machine's thread). */
function currentPid(mem: Memory): number {
  const tid = currentTid();
  if (tid < 2 || tid >= mem.layout.config.maxTasks) return 0;
  return procGet(mem, tid, "tgid") || procGet(mem, tid, "pid");
}

/** The InodeRef of segment record `r`. Lock held (or the record is ours). */
const segInode = (k32: Int32Array, r: number): InodeRef => ({
  ino: asIno(k32[r + SHMID.ino]!),
  slot: asInodeSlot(k32[r + SHMID.slot]!),
});

/**
 * shmget(key, size, shmflg) (ksys_shmget): the id of the segment for `key`,
 * made when needed (IPC_PRIVATE always makes one) with permission bits from
 * `flg`. Entry: no lock held. Takes and drops the shm IPC lock to look the
 * key up and again to add the record; the segment's inode is made between
 * the two, with it dropped (the inode-cache lock, as iget), and a loser's
 * reference is dropped after.
 *
 * @returns the id, or -EINVAL (size below SHMMIN or above SHMMAX, or above
 *   an existing segment's), -EEXIST, -ENOENT, -ENOSPC (no record, or no
 *   shmem inode left)
 */
export function shmGet(c: XipCtx, key: number, size: number, flg: number): number {
  const t = shmTable(c.mem);
  size >>>= 0;
  for (;;) {
    const got = t.locked(() =>
      ipcGetExisting(
        t,
        key,
        flg,
        (idx) => size > t.k32[t.rec(idx) + SHMID.segsz]! >>> 0 ? -EINVAL : 0,
      )
    );
    if (got !== null) return got;
    if (size < SHMMIN || size > SHMMAX) return -EINVAL;
    const ip = shmemInodeNew(c, SHMEM_KIND_SYSV, S_IFREG | (flg & 0o777), size);
    if (typeof ip === "number") return -ENOSPC;
    const made = t.locked(() => {
      // Another process may have made one for the key meanwhile: use theirs.
      if (key !== IPC_PRIVATE && t.findKey(key) >= 0) return null;
      const idx = t.add(key, flg);
      if (idx < 0) return idx;
      const r = t.rec(idx);
      const k = t.k32;
      k[r + SHMID.segsz] = size;
      k[r + SHMID.ino] = ip.ino;
      k[r + SHMID.slot] = ip.slot;
      k[r + SHMID.cpid] = currentPid(c.mem);
      shmiSet(c, ip, "key", key);
      shmiSet(c, ip, "sysvIdx", idx + 1);
      return t.idOf(idx);
    });
    if (made !== null && made >= 0) return made; // the record owns the reference now
    shmemIput(c, ip);
    if (made !== null) return made;
    // Lost a race for the key: look again (it exists now).
  }
}

/**
 * shmat(shmid, shmaddr, shmflg) (do_shmat) into mm `mm`: map the whole
 * segment shared, at `addr` (rounded down with SHM_RND) or where the kernel
 * chooses for 0; read-only with SHM_RDONLY, executable with SHM_EXEC. An
 * address over an existing mapping needs SHM_REMAP. Entry: no lock held.
 * Takes and drops the shm IPC lock to pin the segment, then maps it with the
 * lock dropped (mmap_lock for reading to check the range, then doMmap:
 * mmap_lock for writing and the i_mmap lock), then takes the shm lock again
 * to unpin.
 *
 * @returns the address, or -EINVAL (bad id or address), -EIDRM (the segment
 *   was removed), -ENOMEM (no room)
 */
export function shmAt(c: XipCtx, mm: MmId, id: number, addr: number, flg: number): number {
  const mem = c.mem;
  addr >>>= 0;
  let mapFlags = MAP_SHARED;
  if (addr !== 0) {
    if (addr % SHMLBA !== 0) {
      if ((flg & SHM_RND) === 0) return -EINVAL;
      addr -= addr % SHMLBA;
      if (addr === 0 && (flg & SHM_REMAP) !== 0) return -EINVAL;
    }
    mapFlags |= MAP_FIXED;
  } else if ((flg & SHM_REMAP) !== 0) return -EINVAL;
  const prot = PROT_READ | ((flg & SHM_RDONLY) !== 0 ? 0 : PROT_WRITE) |
    ((flg & SHM_EXEC) !== 0 ? PROT_EXEC : 0);
  const t = shmTable(mem);
  // Pin the segment (an attach in progress counts, as in do_shmat) and its inode.
  const seg = t.locked(() => {
    const idx = t.lookup(id);
    if (idx < 0) return null;
    const r = t.rec(idx);
    t.k32[r + SHMID.nattch]!++;
    const ip = segInode(t.k32, r);
    shmemIhold(c, ip);
    return { idx, ip, size: t.k32[r + SHMID.segsz]! >>> 0 };
  });
  if (seg === null) return -EINVAL;
  let ret: number;
  const len = pageRoundUp(seg.size);
  if (
    addr !== 0 && (flg & SHM_REMAP) === 0 &&
    (addr + len > TASK_SIZE || intersects(mem, mm, addr, len))
  ) {
    ret = -EINVAL;
  } else {
    const file = { slot: seg.ip.slot, ops: VMOPS_SYSV_SHM, readable: true, writable: true };
    ret = doMmap(mem, mm, addr, len, prot, mapFlags, file, 0);
  }
  shmemIput(c, seg.ip);
  detach(c, t, seg.idx);
  return ret;
}

/** Whether [addr, addr + len) meets a VMA of `mm`. */
function intersects(mem: Memory, mm: MmId, addr: number, len: number): boolean {
  mmapReadLock(mem, mm);
  try {
    return findVmaIntersection(mem, mm, asVirt(addr), asVirt(addr + len)) !== 0;
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

/**
 * One attach of segment `idx` went (a VMA closed, or shmat's own pin):
 * count it, and destroy the segment if it was removed and this was the
 * last (shm_may_destroy). Takes the shm lock; drops the record's inode
 * reference after it.
 */
function detach(c: XipCtx, t: IdTable, idx: number): void {
  const gone = t.locked(() => {
    const r = t.rec(idx);
    const k = t.k32;
    const left = --k[r + SHMID.nattch]!;
    if (left < 0) throw new Error(`shm detach: segment ${idx} attach count went negative`);
    k[r + SHMID.dtime] = ipcNow();
    k[r + SHMID.lpid] = currentPid(c.mem);
    if (left > 0 || (k[r + SHMID.mode]! & SHM_DEST) === 0) return null;
    return destroyLocked(c, t, idx);
  });
  if (gone !== null) shmemIput(c, gone);
}

/**
 * Take segment `idx` out of the table (shm_destroy) and return the inode
 * reference the record held, for the caller to drop after the lock.
 */
function destroyLocked(c: XipCtx, t: IdTable, idx: number): InodeRef {
  const r = t.rec(idx);
  const ip = segInode(t.k32, r);
  shmiSet(c, ip, "sysvIdx", 0);
  t.remove(idx);
  return ip;
}

/**
 * The VmOperations of attached segments (Linux's shm_vm_ops): shmem's fault,
 * the i_mmap bookkeeping of any file VMA, and attach counting. Entry: any
 * lock state; building the table takes no lock. open and close run with
 * mmap_lock held for writing (or a dead mm) and take the i_mmap lock and
 * then, with it dropped, the shm IPC lock; close drops the inode reference
 * last, with neither held.
 */
export function sysvShmVmOps(c: XipCtx): VmOperations<XipCtx> {
  const t = shmTable(c.mem);
  const segOf = (v: VmaId): number => shmiGet(c, vmaInode(c, v), "sysvIdx") - 1;
  return {
    name: "sysv-shm",
    ctx: c,
    fault: shmemFault,
    open(mem: Memory, v: VmaId, after?: VmaId) {
      const ip = vmaInode(c, v);
      shmemIhold(c, ip);
      rmapAddVma(mem, v, after); // fork: right after the parent's VMA
      const idx = segOf(v);
      if (idx < 0) return; // destroyed: a VMA of a removed segment split or forked
      t.locked(() => {
        const r = t.rec(idx);
        t.k32[r + SHMID.nattch]!++;
        t.k32[r + SHMID.atime] = ipcNow();
        t.k32[r + SHMID.lpid] = currentPid(mem);
      });
    },
    close(mem: Memory, v: VmaId) {
      const ip = vmaInode(c, v);
      const idx = segOf(v);
      rmapRemoveVma(mem, v);
      if (idx >= 0) detach(c, t, idx);
      shmemIput(c, ip);
    },
    lockRmap: rmapLockVma,
    unlockRmap: rmapUnlockVma,
    msync: () => 0,
  };
}

/**
 * shmdt(shmaddr) (ksys_shmdt) from mm `mm`: unmap the segment attached at
 * `addr`: the VMA there whose page offset says the segment starts at `addr`,
 * and every other VMA of the same segment in the segment's size from there
 * (a partly unmapped or mprotected attach is several VMAs). Entry: no lock
 * held. Finds the VMAs under mmap_lock for reading, drops it, then unmaps
 * each range as doMunmap (mmap_lock for writing; the VMA close takes the shm
 * IPC lock).
 *
 * @returns 0, or -EINVAL (not page aligned, or no segment attached there)
 */
export function shmDt(c: XipCtx, mm: MmId, addr: number): number {
  const mem = c.mem;
  addr >>>= 0;
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  const ranges: [number, number][] = [];
  mmapReadLock(mem, mm);
  try {
    let slot = 0, end = TASK_SIZE;
    for (let v = findVma(mem, mm, asVirt(addr)); v !== 0; v = vmaNext(mem, v)) {
      const s = vmaStart(mem, v);
      if (s >= end) break;
      if (vmaOpsId(mem, v) !== VMOPS_SYSV_SHM) continue;
      if (vmaPgoff(mem, v) !== (s - addr) / PAGE_SIZE) continue;
      if (slot === 0) {
        slot = vmaFile(mem, v);
        const size = shmemSize(c, vmaInode(c, v));
        end = Math.min(TASK_SIZE, addr + pageRoundUp(size));
      }
      if (vmaFile(mem, v) === slot) ranges.push([s, Math.min(vmaEnd(mem, v), end)]);
    }
  } finally {
    mmapReadUnlock(mem, mm);
  }
  if (ranges.length === 0) return -EINVAL;
  for (const [s, e] of ranges) doMunmap(mem, mm, s, e - s);
  return 0;
}

/** What shmctl needs from the syscall layer: the user buffer, both ways. */
export interface IpcUserBuf {
  /** Read `len` bytes of the caller's buffer: the bytes or -EFAULT. */
  read(len: number): Uint8Array | number;
  /** Write `bytes` to the caller's buffer: 0 or -EFAULT. */
  write(bytes: Uint8Array): number;
}

/**
 * shmctl(shmid, cmd, buf) (ksys_shmctl with IPC_64 layouts): IPC_STAT,
 * SHM_STAT, SHM_STAT_ANY, IPC_SET, IPC_RMID, IPC_INFO, SHM_INFO, SHM_LOCK,
 * SHM_UNLOCK. Entry: no lock held. Takes and drops the shm IPC lock; `buf`
 * is copied outside it (mmap_lock for reading), and IPC_RMID drops the
 * destroyed segment's inode reference after it.
 *
 * @returns 0, an id (SHM_STAT*), the highest index in use (*_INFO), or
 *   -EINVAL (bad id or command, IPC_64), -EFAULT
 */
export function shmCtl(c: XipCtx, id: number, cmd: number, buf: IpcUserBuf): number {
  const t = shmTable(c.mem);
  const k = t.k32;
  if (id < 0 || cmd < 0 || (cmd & IPC_64) !== 0) return -EINVAL;
  switch (cmd) {
    case IPC_INFO: {
      const out = new Uint8Array(SHMINFO_BYTES);
      const dv = new DataView(out.buffer);
      [SHMMAX, SHMMIN, SHM_IDS, SHM_IDS, SHMALL].forEach((v, i) => dv.setUint32(i * 4, v, true));
      const r = buf.write(out);
      return r < 0 ? r : Math.max(0, t.locked(() => t.maxIdx()));
    }
    case SHM_INFO: {
      const out = new Uint8Array(SHM_INFO_BYTES);
      const dv = new DataView(out.buffer);
      const max = t.locked(() => {
        let pages = 0;
        for (let i = 0; i < SHM_IDS; i++) {
          if (t.lookup(t.idOf(i)) < 0) continue;
          pages += shmiGet(c, segInode(k, t.rec(i)), "pages");
        }
        dv.setInt32(0, t.inUse(), true);
        dv.setUint32(4, pages, true); // shm_tot
        dv.setUint32(8, pages, true); // shm_rss: nothing is swapped
        return t.maxIdx();
      });
      const r = buf.write(out);
      return r < 0 ? r : Math.max(0, max);
    }
    case IPC_STAT:
    case SHM_STAT:
    case SHM_STAT_ANY: {
      const out = new Uint8Array(SHMID64_BYTES);
      const dv = new DataView(out.buffer);
      const ret = t.locked(() => {
        // SHM_STAT takes an index, not an id, and returns the id.
        const idx = cmd === IPC_STAT ? t.lookup(id) : t.lookup(id < SHM_IDS ? t.idOf(id) : -1);
        if (idx < 0) return -EINVAL;
        const r = t.rec(idx);
        putIpcPerm(k, r, dv, SHMID64.perm);
        dv.setUint32(SHMID64.segsz, k[r + SHMID.segsz]!, true);
        putTime(dv, SHMID64.atime, k[r + SHMID.atime]!);
        putTime(dv, SHMID64.dtime, k[r + SHMID.dtime]!);
        putTime(dv, SHMID64.ctime, k[r + SHMID.ctime]!);
        dv.setInt32(SHMID64.cpid, k[r + SHMID.cpid]!, true);
        dv.setInt32(SHMID64.lpid, k[r + SHMID.lpid]!, true);
        dv.setUint32(SHMID64.nattch, k[r + SHMID.nattch]!, true);
        return cmd === IPC_STAT ? 0 : t.idOf(idx);
      });
      if (ret < 0) return ret;
      const w = buf.write(out);
      return w < 0 ? w : ret;
    }
    case IPC_SET: {
      const raw = buf.read(SHMID64_BYTES);
      if (typeof raw === "number") return raw;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return t.locked(() => {
        const idx = t.lookup(id);
        if (idx < 0) return -EINVAL;
        setIpcPerm(k, t.rec(idx), dv, SHMID64.perm);
        return 0;
      });
    }
    case IPC_RMID: {
      let gone: InodeRef | null = null;
      const r = t.locked(() => {
        const idx = t.lookup(id);
        if (idx < 0) return -EINVAL;
        const rec = t.rec(idx);
        if (k[rec + SHMID.nattch] === 0) gone = destroyLocked(c, t, idx);
        else {
          k[rec + SHMID.mode]! |= SHM_DEST;
          k[rec + SHMID.key] = IPC_PRIVATE; // a new shmget of the key makes a new segment
        }
        return 0;
      });
      if (gone !== null) shmemIput(c, gone);
      return r;
    }
    case SHM_LOCK:
    case SHM_UNLOCK:
      // Nothing is ever swapped out; the flag is only reported.
      return t.locked(() => {
        const idx = t.lookup(id);
        if (idx < 0) return -EINVAL;
        const r = t.rec(idx);
        if (cmd === SHM_LOCK) k[r + SHMID.mode]! |= SHM_LOCKED;
        else k[r + SHMID.mode]! &= ~SHM_LOCKED;
        return 0;
      });
    default:
      return -EINVAL;
  }
}

/**
 * Destroy every segment (machine shutdown: no process is left, so none is
 * attached), dropping the inode references the records hold. Main thread.
 * Entry: no lock held; takes and drops the shm IPC lock, then drops the
 * references with it released.
 */
export function shmTeardown(c: XipCtx): void {
  const t = shmTable(c.mem);
  const refs: InodeRef[] = t.locked(() => {
    const out: InodeRef[] = [];
    for (let i = 0; i < SHM_IDS; i++) {
      if (t.lookup(t.idOf(i)) >= 0) out.push(destroyLocked(c, t, i));
    }
    return out;
  });
  for (const ip of refs) shmemIput(c, ip);
}
