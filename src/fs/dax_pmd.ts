/**
 * DAX megapage faults: Linux's dax_iomap_pmd_fault, mapping 4 MiB of a
 * file with one Sv32 megapage straight from the device
 * (src/mm/huge_memory.ts insertPfnPmd, Linux's vmf_insert_pfn_pmd).
 *
 * ```
 * daxPmdFault: invalidate_lock(read) → PMD-range lock (write)
 *   → the 4 MiB is inside i_size, else FALLBACK
 *   → its 1024 file blocks are one run of device blocks whose first frame
 *     is 1024-aligned (an extent: extsize hint, mkfs --from), else FALLBACK
 *     (a shared write into a wholly unallocated extent with a 4 MiB hint
 *     allocates it first); a hole is never mapped huge (no huge zero page)
 *   → no block of it is poisoned, else FALLBACK (only the bad page faults)
 *   → write: every block of the run is marked dirty; on a MAP_SYNC mapping
 *     with metadata not yet durable, unlock, sync, and start again
 *   → insertPfnPmd (FALLBACK if this mm has 4 KiB PTEs in the range)
 * ```
 *
 * The PMD-range lock (layout/mod.ts DAXPMD) is what makes a DAX entry cover
 * the 4 MiB range, as Linux's xarray holds either one PMD entry or PTE
 * entries there: a 4 KiB fault holds its range's lock for reading around
 * its DAX entry (dax_fault.ts withEntry), a megapage fault holds it for
 * writing, so a megapage fault never runs while a 4 KiB fault of the range
 * is deciding (allocating a block, mapping the zero page) and vice versa.
 *
 * Per thread: registered with the DAX VmOperations (file_vm_ops.ts).
 *
 * @module
 */

import { invalidateLockShared, invalidateUnlockShared } from "./xipfs/xipfs_locks.ts";
import { isErr } from "../abi/errno.ts";
import { ACCESS_WRITE } from "../abi/sv32.ts";
import { countFault, FAULT_KIND } from "../mm/fault_ring.ts";
import { VM_FAULT_NOPAGE } from "../mm/fault.ts";
import { insertPfnPmd, VM_FAULT_FALLBACK } from "../mm/huge_memory.ts";
import { HPAGE_PMD_NR } from "../mm/pgtable.ts";
import { VM_SYNC, vmaFlags, type VmFault } from "../mm/vma.ts";
import { VM_FAULT_SIGBUS } from "../mm/fault.ts";
import { badblockFirst } from "../hw/badblocks.ts";
import { daxSyncMetadata, daxSyncNeededRange, VM_FAULT_NEEDDSYNC } from "./dax_sync.ts";
import { markRangeDirty } from "./xipfs/balloc.ts";
import {
  daxBlockPfn,
  daxPmdLock,
  daxPmdUnlock,
  faultError,
  sizePages,
  vmaInode,
} from "./dax_fault.ts";
import { bmapLookupFast, bmapRun, getBlock } from "./xipfs/getblock.ts";
import { inodeGet, inodeGetSize } from "./xipfs/xipfs_format.ts";
import { type InodeRef, type XipCtx } from "./xipfs/xipfs_ctx.ts";

/**
 * The megapage fault of S_DAX files (VmOperations.hugeFault). Entry:
 * mmap_lock held for reading (huge_memory.ts checked that the VMA can
 * take a megapage at vmf.address). Takes invalidate_lock (read), then the
 * PMD-range lock (write); getBlock takes the block-map lock under them.
 *
 * @returns VM_FAULT_NOPAGE (mapped, made writable, or another Worker won),
 *   VM_FAULT_FALLBACK, or VM_FAULT_SIGBUS / VM_FAULT_OOM from an allocation
 */
export function daxPmdFault(c: XipCtx, vmf: VmFault): number {
  const ip = vmaInode(c, vmf.vma);
  for (let synced = false;;) {
    invalidateLockShared(c, ip);
    daxPmdLock(c.mem, ip.slot, vmf.pgoff);
    let r: number;
    try {
      r = pmdFaultLocked(c, ip, vmf, synced);
    } finally {
      daxPmdUnlock(c.mem, ip.slot, vmf.pgoff);
      invalidateUnlockShared(c, ip);
    }
    if (r !== VM_FAULT_NEEDDSYNC) return r;
    // MAP_SYNC (dax_finish_sync_fault): the metadata durable first, then map.
    if (daxSyncMetadata(c) < 0) return VM_FAULT_SIGBUS;
    synced = true;
  }
}

/** daxPmdFault under its locks; `synced`: the metadata was made durable just now. */
function pmdFaultLocked(c: XipCtx, ip: InodeRef, vmf: VmFault, synced: boolean): number {
  if (vmf.pgoff + HPAGE_PMD_NR > sizePages(inodeGetSize(c.vol, ip.ino))) return VM_FAULT_FALLBACK;
  const write = vmf.access === ACCESS_WRITE;
  let b0 = bmapLookupFast(c, ip.ino, vmf.pgoff);
  if (b0 === 0 && write && inodeGet(c.vol, ip.ino, "extsize") === HPAGE_PMD_NR) {
    // A shared write into an unallocated 4 MiB extent: allocate it whole.
    b0 = getBlock(c, ip, vmf.pgoff, true);
  }
  if (b0 < 0) return faultError(b0);
  if (b0 === 0) return VM_FAULT_FALLBACK; // a hole: 4 KiB zero pages, no huge zero page
  if (bmapRun(c, ip.ino, vmf.pgoff, b0, HPAGE_PMD_NR) < HPAGE_PMD_NR) return VM_FAULT_FALLBACK;
  const pfn = daxBlockPfn(c, b0);
  if (isErr(pfn)) return faultError(pfn);
  if (pfn % HPAGE_PMD_NR !== 0) return VM_FAULT_FALLBACK;
  // A poisoned block: 4 KiB PTEs, so that only its page raises SIGBUS.
  if (badblockFirst(c.mem, b0, HPAGE_PMD_NR) >= 0) return VM_FAULT_FALLBACK;
  if (write) markRangeDirty(c, b0, HPAGE_PMD_NR);
  const sync = write && !synced && (vmaFlags(c.mem, vmf.vma) & VM_SYNC) !== 0;
  if (sync && daxSyncNeededRange(c, ip, vmf.pgoff, b0, HPAGE_PMD_NR)) return VM_FAULT_NEEDDSYNC;
  const r = insertPfnPmd(c.mem, vmf.mm, vmf.vma, vmf.address, pfn, write);
  if (r === VM_FAULT_NOPAGE && vmf.origPte === 0) {
    countFault(c.mem, FAULT_KIND.daxPmd, vmf.address, pfn);
  }
  return r;
}
