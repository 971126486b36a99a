/**
 * Wiring of the live xipfs into the mm layer, once per thread: the three
 * VmOperations (DAX, page cache, and shmem for the memory-backed inodes
 * that share its inode cache), the truncate hook that unmaps a range
 * from every process, and the choice of ops for an mmap of a file.
 *
 * Every thread that maps or faults files (the main thread and each Worker)
 * calls installFileMm with its own XipFs (mountXipfs / attachXipfs), because
 * the VmOperations registry and livefs's hook are per-thread module state.
 *
 * The VMA keeps a reference on its inode (open: ihold, close: iput), as a
 * Linux VMA keeps its struct file.
 *
 * @module
 */

import { invalidateLock, invalidateUnlock } from "./xipfs/xipfs_locks.ts";
import { KernelPanic } from "../abi/panic.ts";
import { EOPNOTSUPP, isErr } from "../abi/errno.ts";
import { MAP_SYNC } from "../abi/mman.ts";
import type { Pfn, VirtAddr, VmaId } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { pageMapcount, pageRefcount, pfnValid } from "../mm/memmap.ts";
import {
  rmapAddVma,
  rmapLockVma,
  rmapRemoveVma,
  rmapUnlockVma,
  unmapMappingRange,
} from "../mm/rmap.ts";
import {
  type MmapFile,
  registerVmOps,
  VM_DENYWRITE,
  VM_MIXEDMAP,
  VM_SYNC,
  vmaEnd,
  vmaFlags,
  vmaPgoff,
  vmaStart,
  type VmOperations,
  VMOPS_DAX,
  VMOPS_FILEMAP,
  VMOPS_SHMEM,
} from "../mm/vma.ts";
import { daxBlockPfn, daxFault, daxPfnMkwrite, vmaInode } from "./dax_fault.ts";
import { daxPmdFault } from "./dax_pmd.ts";
import { setPersistCtx } from "./dax_sync.ts";
import { type FilemapCtx, filemapFault, filemapMkwrite } from "./pagecache/filemap_fault.ts";
import { ihold, iput, isDax } from "./xipfs/icache.ts";
import { shrinkPageCache, writebackMapping } from "./pagecache/pagecache.ts";
import { setReclaimHook } from "../mm/frame_alloc.ts";
import { isShmemSlot, shmemAttach, shmemVmOps } from "./shmem.ts";
import { bmapWalk } from "./xipfs/xipfs_bmap.ts";
import { fsync } from "./xipfs/xipfs_sync.ts";
import { writeAccess } from "./write_access.ts";
import { type InodeRef, type XipCtx } from "./xipfs/xipfs_ctx.ts";
import { setUnmapMappingRangeHook, type XipFs } from "./xipfs/xipfs_live.ts";

/** How long truncate waits for a pinned DAX page before declaring a leak. */
export const DAX_BUSY_TIMEOUT_MS = 10_000;

const NAP = new Int32Array(new SharedArrayBuffer(4));

/** open/close/lockRmap/unlockRmap, common to both kinds of file VMA. */
function rmapOps(c: XipCtx): Pick<VmOperations, "open" | "close" | "lockRmap" | "unlockRmap"> {
  return {
    open(mem: Memory, v: VmaId, after?: VmaId) {
      ihold(c, vmaInode(c, v));
      // Each exec mapping holds a denial for its life; the exec's own one
      // covers the moment before the first (write_access.ts).
      if ((vmaFlags(mem, v) & VM_DENYWRITE) !== 0) writeAccess(mem, vmaInode(c, v).slot, "deny");
      rmapAddVma(mem, v, after);
    },
    close(mem: Memory, v: VmaId) {
      const ip = vmaInode(c, v);
      if ((vmaFlags(mem, v) & VM_DENYWRITE) !== 0) writeAccess(mem, ip.slot, "allow");
      rmapRemoveVma(mem, v);
      iput(c, ip);
    },
    lockRmap: rmapLockVma,
    unlockRmap: rmapUnlockVma,
  };
}

/**
 * The VmOperations of S_DAX files (VMOPS_DAX). Entry: any lock state;
 * building the table takes no lock. Each op keeps its own contract: fault as
 * daxFault, hugeFault as daxPmdFault, pageMkwrite as daxPfnMkwrite
 * (mmap_lock held for reading), msync as fsync (no lock of the inode held),
 * open and close as rmapAddVma and rmapRemoveVma.
 */
export function daxVmOps(c: XipCtx): VmOperations<XipCtx> {
  return {
    name: "dax",
    ctx: c,
    mmapSupportedFlags: MAP_SYNC,
    mmap: (_mem, _file, vmFlags) => vmFlags | VM_MIXEDMAP,
    fault: daxFault,
    hugeFault: daxPmdFault,
    pageMkwrite: daxPfnMkwrite,
    // Stores through the mapping land on the device itself; fsync records
    // every block of a mapped DAX file for the host image.
    msync: (_mem, v) => fsync(c, vmaInode(c, v)),
    ...rmapOps(c),
  };
}

/**
 * The VmOperations of page-cache files (VMOPS_FILEMAP). Entry: any lock
 * state; building the table takes no lock. Each op keeps its own contract:
 * fault as filemapFault, pageMkwrite as filemapMkwrite (mmap_lock held for
 * reading), msync as writebackMapping (no page lock held; takes each dirty
 * page's lock in turn), open and close as rmapAddVma and rmapRemoveVma.
 */
export function filemapVmOps(f: FilemapCtx): VmOperations<FilemapCtx> {
  const c = f.c;
  return {
    name: "filemap",
    ctx: f,
    mmapSupportedFlags: MAP_SYNC,
    // MAP_SYNC needs a DAX file (ext4_file_mmap's daxdev_mapping_supported).
    mmap: (_mem, _file, vmFlags) => (vmFlags & VM_SYNC) !== 0 ? -EOPNOTSUPP : vmFlags,
    fault: filemapFault,
    pageMkwrite: filemapMkwrite,
    msync(_mem, v, start: VirtAddr, end: VirtAddr) {
      const from = vmaPgoff(c.mem, v) + ((start - vmaStart(c.mem, v)) >>> 12);
      const to = from + ((Math.min(end, vmaEnd(c.mem, v)) - start + 4095) >>> 12);
      const n = writebackMapping(c.mem, vmaInode(c, v).slot, f.aops, { from, to });
      return n < 0 ? n : 0;
    },
    ...rmapOps(c),
  };
}

/**
 * A mapped DAX frame of [start, start + n) (n 0: to the end) of `ip` that
 * somebody still holds a reference to beyond its mappings: a get_user_pages
 * pin (Linux's dax_layout_busy_page). Only frames with a struct page can be
 * pinned, so without a device memmap there is never one.
 *
 * @returns the pfn, or -1
 */
export function daxLayoutBusyPage(c: XipCtx, ip: InodeRef, start: number, n: number): Pfn | -1 {
  if (!c.mem.layout.config.deviceMemmap) return -1;
  const end = n === 0 ? Infinity : start + n;
  let busy: Pfn | -1 = -1;
  bmapWalk(c.vol, ip.ino, (b, ib, kind, valid) => {
    if (busy !== -1 || kind !== "data" || !valid || ib < start || ib >= end) return;
    const pfn = daxBlockPfn(c, b);
    if (isErr(pfn) || !pfnValid(c.mem, pfn)) return;
    if (pageRefcount(c.mem, pfn) > pageMapcount(c.mem, pfn)) busy = pfn;
  });
  return busy;
}

/**
 * Truncate's unmap step (installed as livefs's unmapMappingRangeHook):
 * unmap the range from every process, private COW copies included; then,
 * for a DAX file whose frames can be pinned, wait until no pin remains, so
 * a freed block is never reused under an O_DIRECT in flight. While it
 * waits it drops invalidate_lock (as xfs_break_dax_layouts does), because
 * the pinner may need a fault to finish; faults in the gap may map the
 * range again, so it unmaps again after retaking the lock.
 * Entry: i_rwsem and invalidate_lock held for write; exit: the same.
 *
 * @throws KernelPanic when a pin is held for DAX_BUSY_TIMEOUT_MS
 */
export function truncateUnmap(c: XipCtx, ip: InodeRef, start: number, n: number): void {
  unmapMappingRange(c.mem, ip.slot, start, n, true);
  if (!isDax(c, ip)) return;
  const deadline = performance.now() + DAX_BUSY_TIMEOUT_MS;
  for (let busy = daxLayoutBusyPage(c, ip, start, n); busy !== -1;) {
    invalidateUnlock(c, ip);
    while (pageRefcount(c.mem, busy) > pageMapcount(c.mem, busy)) {
      if (performance.now() > deadline) {
        invalidateLock(c, ip);
        throw new KernelPanic("truncateUnmap", `DAX frame ${busy} stays pinned`);
      }
      // putPage does not notify: poll in 1 ms naps (pins are short: one O_DIRECT copy).
      Atomics.wait(NAP, 0, 0, 1);
    }
    invalidateLock(c, ip);
    unmapMappingRange(c.mem, ip.slot, start, n, true);
    busy = daxLayoutBusyPage(c, ip, start, n);
  }
}

/**
 * Register this thread's DAX and page-cache VmOperations over `fs`, install
 * truncateUnmap as its unmap hook and the page-cache shrinker as its reclaim
 * hook. Call once per thread, after mounting or attaching. Entry: no lock
 * held; takes none (it only fills this thread's tables; the hooks carry the
 * contracts of truncateUnmap and shrinkPageCache).
 */
export function installFileMm(fs: XipFs): void {
  const c = fs.ctx;
  registerVmOps(VMOPS_DAX, daxVmOps(c));
  registerVmOps(VMOPS_FILEMAP, filemapVmOps({ c, aops: fs.aops, aopsFor: fs.aopsFor }));
  registerVmOps(VMOPS_SHMEM, shmemVmOps(c));
  shmemAttach(c);
  setUnmapMappingRangeHook((ip, start, n) => truncateUnmap(c, ip, start, n));
  setPersistCtx(c); // Zicbom cbo.clean/cbo.flush write lines of this device into its image
  // Anonymous and COW faults reclaim the page cache before they fail with OOM.
  setReclaimHook((mem, nr) => shrinkPageCache(mem, nr, fs.aopsFor));
}

/**
 * The MmapFile doMmap needs for an open file of `ip`: shmem ops for a
 * shmem inode (src/fs/shmem.ts), DAX ops for an S_DAX inode, page-cache ops
 * otherwise. `readable`/`writable` are the fd's mode.
 */
export function mmapFile(fs: XipFs, ip: InodeRef, readable: boolean, writable: boolean): MmapFile {
  const ops = isShmemSlot(fs.ctx, ip.slot) ? VMOPS_SHMEM : fs.isDax(ip) ? VMOPS_DAX : VMOPS_FILEMAP;
  return { slot: ip.slot, ops, readable, writable };
}
