/**
 * DAX faults: the fault half of the project's fs/dax.c. A DAX file's pages
 * are never copied into RAM; a fault maps the device frame that holds the
 * file block straight into the process (docs/ARCHITECTURE.md §4):
 *
 * ```
 * daxFault: invalidate_lock(read) → lock the DAX entry (inode, pgoff)
 *   → re-check i_size (past EOF: SIGBUS)
 *   ├ private write:  copy the block (or zeros) into vmf.cowPage → DONE_COW
 *   ├ shared write:   getBlock(create); a hole just filled → unmapMappingRange
 *   │                 (the zero page, every process) → directAccess → insertMixed(W)
 *   ├ read, block:    directAccess → insertMixed(read-only)
 *   └ read, hole:     map the shared zero page read-only, allocate nothing
 *   unlock the entry, invalidate_lock
 * ```
 *
 * insertMixed applies the VM_MIXEDMAP rule of the seeds: a device frame has
 * no struct page by default and is mapped with pte_special, never counted;
 * with a device memmap (`deviceMemmap`) it is refcounted like RAM.
 *
 * Megapages (4 MiB, one PTE in the root table) are dax_pmd.ts's; a 4 KiB
 * fault takes its range's PMD-range lock for reading around its entry.
 *
 * DAX entry locks: Linux keeps a locked entry per (mapping, index) in
 * i_pages. Here only the lock is needed, so it is a bit lock in a hashed
 * table of words (layout/mod.ts DAXENT). Two pages that hash to one word only
 * serialise each other; there is no deadlock because no task ever holds two
 * entries. The entry lock makes "look up the block, decide, map" atomic
 * against another fault on the same page, which is what lets two processes
 * write-fault one hole and end up on one block with both stores kept
 * (getBlock's block-map lock alone would give one block, but a read fault
 * could map the zero page after the write fault's unmap).
 *
 * Stats: a fault that maps a device frame counts VMSTAT.faultDax; a read fault
 * on a hole maps no device frame and counts VMSTAT.faultZero, as an anonymous
 * read of the zero page does (Linux's dax_load_hole); a private write counts
 * VMSTAT.faultCow (in doCowFault), since what it maps is a RAM copy.
 *
 * Per thread: each Worker loads its own copy of this module and calls
 * installFileMm (file_vm_ops.ts) with its own XipFs, which registers these ops.
 *
 * @module
 */

import { invalidateLockShared, invalidateUnlockShared } from "./xipfs/xipfs_locks.ts";
import {
  DAXENT_LOCK_BIT,
  DAXENT_WORDS,
  DAXPMD_LOCK_WORDS,
  DAXPMD_LOCKS,
  ISLOT,
} from "../abi/layout/mod.ts";
import { asErrno, ENOMEM, type Errno, isErr } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { ACCESS_WRITE, PTE_V, pteToPfn } from "../abi/sv32.ts";
import {
  asBlock,
  asPte,
  blockToSector,
  type InodeSlot,
  PAGE_SIZE,
  type Pfn,
  type VmaId,
} from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import {
  copyUserPage,
  insertMixed,
  setZeroPte,
  VM_FAULT_DONE_COW,
  VM_FAULT_HWPOISON,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
} from "../mm/fault.ts";
import { countFault, FAULT_KIND } from "../mm/fault_ring.ts";
import { zeroPfn } from "../mm/mm.ts";
import { HPAGE_PMD_NR } from "../mm/pgtable.ts";
import { unmapMappingRange } from "../mm/rmap.ts";
import { VM_SHARED, VM_SYNC, vmaFile, vmaFlags, type VmFault } from "../mm/vma.ts";
import {
  bitLock,
  bitUnlock,
  downRead,
  downWrite,
  LockClass,
  upRead,
  upWrite,
} from "../sync/mod.ts";
import { perturb } from "../sync/debug.ts";
import { markBlockDirty } from "./xipfs/balloc.ts";
import { daxSyncMetadata, daxSyncNeeded, VM_FAULT_NEEDDSYNC } from "./dax_sync.ts";
import { badblockTest } from "../hw/badblocks.ts";
import { bmapLookupFast, getBlock } from "./xipfs/getblock.ts";
import { slotInode } from "./xipfs/icache.ts";
import { inodeGetSize } from "./xipfs/xipfs_format.ts";
import { type InodeRef, islotBase, type XipCtx } from "./xipfs/xipfs_ctx.ts";

/** Pages needed to hold `size` bytes. */
export const sizePages = (size: number): number => Math.ceil(size / PAGE_SIZE);

/**
 * The inode a file VMA maps. The VMA holds a reference (its open), so the
 * slot cannot change hands while the VMA exists.
 *
 * @throws KernelPanic when the slot holds no inode
 */
export function vmaInode(c: XipCtx, vma: VmaId): InodeRef {
  const ip = slotInode(c, vmaFile(c.mem, vma));
  if (ip === null) throw new KernelPanic("vmaInode", `vma ${vma} maps an empty inode slot`);
  return ip;
}

/** Word index of the DAX entry lock for (inode slot, pgoff). */
export function daxEntryWord(mem: Memory, slot: InodeSlot, pgoff: number): number {
  const h = (Math.imul(slot, 0x9e37_79b1) ^ Math.imul(pgoff + 1, 0x85eb_ca6b)) >>> 0;
  return mem.layout.daxent.base + ((h ^ (h >>> 15)) & (DAXENT_WORDS - 1));
}

/**
 * Word index of the PMD-range lock of (inode slot, pgoff): the rwsem that
 * makes a DAX entry cover a 4 MiB range (layout/mod.ts DAXPMD, dax_pmd.ts).
 */
export function daxPmdLockWord(mem: Memory, slot: InodeSlot, pgoff: number): number {
  const range = Math.floor(pgoff / HPAGE_PMD_NR);
  const h = (Math.imul(slot, 0x9e37_79b1) ^ Math.imul(range + 1, 0x85eb_ca6b)) >>> 0;
  return mem.layout.daxpmd.base + ((h ^ (h >>> 15)) & (DAXPMD_LOCKS - 1)) * DAXPMD_LOCK_WORDS;
}

/**
 * Take the PMD-range lock of (slot, pgoff) for read: a 4 KiB fault, so no
 * megapage fault of the range runs meanwhile. Entry: invalidate_lock held.
 */
export function daxPmdLockShared(mem: Memory, slot: InodeSlot, pgoff: number): void {
  downRead(mem.k32, daxPmdLockWord(mem, slot, pgoff), LockClass.DAX_PMD);
}

/** Drop the PMD-range lock of (slot, pgoff) taken for read. */
export function daxPmdUnlockShared(mem: Memory, slot: InodeSlot, pgoff: number): void {
  upRead(mem.k32, daxPmdLockWord(mem, slot, pgoff));
}

/** Take the PMD-range lock of (slot, pgoff) for write: a megapage fault. Entry: invalidate_lock held. */
export function daxPmdLock(mem: Memory, slot: InodeSlot, pgoff: number): void {
  downWrite(mem.k32, daxPmdLockWord(mem, slot, pgoff), LockClass.DAX_PMD);
}

/** Drop the PMD-range lock of (slot, pgoff) taken for write. */
export function daxPmdUnlock(mem: Memory, slot: InodeSlot, pgoff: number): void {
  upWrite(mem.k32, daxPmdLockWord(mem, slot, pgoff));
}

/** Lock the DAX entry of (slot, pgoff). Entry: invalidate_lock held; no entry or page lock. */
export function daxLockEntry(mem: Memory, slot: InodeSlot, pgoff: number): void {
  bitLock(mem.k32, daxEntryWord(mem, slot, pgoff), DAXENT_LOCK_BIT, LockClass.DAX_ENTRY);
}

/** Unlock the DAX entry of (slot, pgoff). */
export function daxUnlockEntry(mem: Memory, slot: InodeSlot, pgoff: number): void {
  bitUnlock(mem.k32, daxEntryWord(mem, slot, pgoff), DAXENT_LOCK_BIT);
}

/**
 * The device frame holding device block `b`, through directAccess (the only
 * route from a file block to device memory).
 *
 * @returns the pfn, or -errno
 */
export function daxBlockPfn(c: XipCtx, b: number): Pfn | Errno {
  if (c.mdev === null) throw new KernelPanic("daxBlockPfn", "DAX on a device without directAccess");
  const da = c.mdev.directAccess(blockToSector(asBlock(b)), PAGE_SIZE);
  if (typeof da === "number") return asErrno(da);
  return da.avail < PAGE_SIZE ? asErrno(-ENOMEM) : da.pfn;
}

/** VM_FAULT_* for a getBlock/directAccess error (Linux's vmf_error). */
export const faultError = (err: number): number => err === -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;

/**
 * Take what a 4 KiB DAX fault on vmf.pgoff holds (Linux's
 * grab_mapping_entry with the filemap invalidate lock): invalidate_lock
 * (read), the PMD-range lock (read: no megapage fault of the range runs
 * meanwhile) and the DAX entry. Entry: mmap_lock held for reading; exit:
 * those three held too, until daxUnlockFault.
 *
 * @returns the inode the VMA maps
 */
function daxLockFault(c: XipCtx, vmf: VmFault): InodeRef {
  const ip = vmaInode(c, vmf.vma);
  invalidateLockShared(c, ip);
  daxPmdLockShared(c.mem, ip.slot, vmf.pgoff);
  daxLockEntry(c.mem, ip.slot, vmf.pgoff);
  return ip;
}

/** Drop what daxLockFault took, in reverse order. */
function daxUnlockFault(c: XipCtx, ip: InodeRef, vmf: VmFault): void {
  daxUnlockEntry(c.mem, ip.slot, vmf.pgoff);
  daxPmdUnlockShared(c.mem, ip.slot, vmf.pgoff);
  invalidateUnlockShared(c, ip);
}

/** Whether vmf.pgoff is at or past EOF, re-checked under the fault's locks (then SIGBUS). */
const pastEof = (c: XipCtx, ip: InodeRef, vmf: VmFault): boolean =>
  vmf.pgoff >= sizePages(inodeGetSize(c.vol, ip.ino));

/**
 * Read fault on a hole (Linux's dax_load_hole): map the shared zero page
 * read-only with pte_special, so nothing counts it, and allocate nothing.
 * A write(2) fills holes without our entry lock, so after mapping, look
 * again: if a block appeared meanwhile, take the zero page back out (the
 * writer unmaps after publishing its block, so one of us always does).
 * Entry: as daxFault, with the fault's locks held.
 */
function daxLoadHole(c: XipCtx, ip: InodeRef, vmf: VmFault): number {
  setZeroPte(vmf);
  if (bmapLookupFast(c, ip.ino, vmf.pgoff) !== 0) unmapMappingRange(vmf.mem, ip.slot, vmf.pgoff, 1);
  return VM_FAULT_NOPAGE;
}

/**
 * Private write: copy the block straight from its device frame into
 * vmf.cowPage, which may have no struct page (Linux's dax_fault_cow_page,
 * cow_user_page on a pfn); a hole copies zeros. doCowFault maps the copy.
 * Entry: the fault's locks held.
 *
 * @returns VM_FAULT_DONE_COW, or an error
 */
function daxFaultCowPage(c: XipCtx, ip: InodeRef, vmf: VmFault): number {
  const { mem } = vmf;
  const dst = vmf.cowPage;
  if (dst === 0) {
    throw new KernelPanic("daxFaultCowPage", "a private write fault without a cowPage");
  }
  const b = getBlock(c, ip, vmf.pgoff, false);
  if (b < 0) return faultError(b);
  if (b === 0) mem.u8.fill(0, dst * PAGE_SIZE, (dst + 1) * PAGE_SIZE);
  else {
    if (badblockTest(mem, b)) return VM_FAULT_HWPOISON; // copying it would consume poison
    const src = daxBlockPfn(c, b);
    if (isErr(src)) return faultError(src);
    copyUserPage(mem, dst, src);
  }
  return VM_FAULT_DONE_COW;
}

/**
 * Shared write to page vmf.pgoff (first touch, or a read-only PTE being
 * made writable): allocate the block if it is a hole, unmap the zero page
 * from every process that mapped it for this page, map the block writable
 * and mark it dirty for fsync. On a MAP_SYNC mapping whose metadata is not
 * yet durable it maps nothing and asks for a sync first
 * (VM_FAULT_NEEDDSYNC, dax_sync.ts). Entry: the fault's locks held.
 */
function daxSharedWrite(c: XipCtx, ip: InodeRef, vmf: VmFault): number {
  const { mem } = vmf;
  let b = getBlock(c, ip, vmf.pgoff, false);
  if (b < 0) return faultError(b);
  const zeroMapped = (vmf.origPte & PTE_V) !== 0 && pteToPfn(asPte(vmf.origPte)) === zeroPfn(mem);
  const hole = b === 0;
  if (hole) {
    b = getBlock(c, ip, vmf.pgoff, true);
    if (b < 0) return faultError(b);
    perturb(c.k32); // DEBUG_PERTURB: widen the window between allocation and mapping
  }
  if (hole || zeroMapped) {
    // Any process (this one too) may map the zero page for this hole; none
    // may keep it once the block exists. Cheap when nobody does.
    unmapMappingRange(mem, ip.slot, vmf.pgoff, 1);
  }
  if (badblockTest(mem, b)) return VM_FAULT_HWPOISON;
  const pfn = daxBlockPfn(c, b);
  if (isErr(pfn)) return faultError(pfn);
  markBlockDirty(c, b);
  const sync = (vmaFlags(mem, vmf.vma) & VM_SYNC) !== 0;
  if (sync && daxSyncNeeded(c, ip, vmf.pgoff, b)) return VM_FAULT_NEEDDSYNC;
  const r = insertMixed(mem, vmf.mm, vmf.vma, vmf.address, pfn, true);
  if (r === VM_FAULT_NOPAGE) countFault(mem, FAULT_KIND.dax, vmf.address, pfn);
  return r;
}

/**
 * The DAX fault handler (VmOperations.fault of S_DAX files; Linux's
 * dax_iomap_pte_fault). Entry: mmap_lock held for reading, nothing else.
 * Takes invalidate_lock (read), the PMD-range lock (read) and the DAX
 * entry, and drops them before it returns; getBlock takes the block-map
 * lock under them.
 *
 * @returns VM_FAULT_NOPAGE (PTE installed or another Worker won),
 *   VM_FAULT_DONE_COW (vmf.cowPage filled), VM_FAULT_SIGBUS (past EOF,
 *   ENOSPC, I/O error), VM_FAULT_HWPOISON (the block is poisoned),
 *   VM_FAULT_OOM
 */
export function daxFault(c: XipCtx, vmf: VmFault): number {
  const { mem } = vmf;
  const ip = daxLockFault(c, vmf);
  let r: number;
  try {
    if (pastEof(c, ip, vmf)) return VM_FAULT_SIGBUS;
    if (vmf.cowPage !== 0) return daxFaultCowPage(c, ip, vmf);
    if (vmf.access === ACCESS_WRITE && (vmaFlags(mem, vmf.vma) & VM_SHARED) !== 0) {
      r = daxSharedWrite(c, ip, vmf); // may need a sync, after the locks go
    } else {
      const b = getBlock(c, ip, vmf.pgoff, false);
      if (b < 0) return faultError(b);
      if (b === 0) return daxLoadHole(c, ip, vmf);
      if (badblockTest(mem, b)) return VM_FAULT_HWPOISON;
      const pfn = daxBlockPfn(c, b);
      if (isErr(pfn)) return faultError(pfn);
      const ins = insertMixed(mem, vmf.mm, vmf.vma, vmf.address, pfn, false);
      if (ins === VM_FAULT_NOPAGE) countFault(mem, FAULT_KIND.dax, vmf.address, pfn);
      return ins;
    }
  } finally {
    daxUnlockFault(c, ip, vmf);
  }
  return r === VM_FAULT_NEEDDSYNC ? daxFinishSyncFault(c, vmf) : r;
}

/**
 * A read-only PTE of a shared DAX mapping is written (Linux's
 * dax_pfn_mkwrite / page_mkwrite): the zero page is replaced by a new block
 * in every process; a device frame is marked dirty and made writable.
 * Entry and locks as daxFault.
 *
 * @returns VM_FAULT_NOPAGE (done), VM_FAULT_SIGBUS, VM_FAULT_HWPOISON, VM_FAULT_OOM
 */
export function daxPfnMkwrite(c: XipCtx, vmf: VmFault): number {
  const ip = daxLockFault(c, vmf);
  let r: number;
  try {
    r = pastEof(c, ip, vmf) ? VM_FAULT_SIGBUS : daxSharedWrite(c, ip, vmf);
  } finally {
    daxUnlockFault(c, ip, vmf);
  }
  return r === VM_FAULT_NEEDDSYNC ? daxFinishSyncFault(c, vmf) : r;
}

/**
 * The end of a MAP_SYNC write fault whose metadata was not durable
 * (Linux's dax_finish_sync_fault): with no lock of the inode held, make the
 * file system durable in the host image (vfs_fsync_range); then, under the
 * entry again, map the page writable if the file still has that block
 * there (dax_insert_pfn_mkwrite). Entry: mmap_lock held for reading; takes
 * and drops the fault's locks as daxFault.
 *
 * @returns VM_FAULT_NOPAGE (mapped, or the file changed meanwhile: retry),
 *   VM_FAULT_SIGBUS when the sync failed or the page is past EOF now
 */
function daxFinishSyncFault(c: XipCtx, vmf: VmFault): number {
  if (daxSyncMetadata(c) < 0) return VM_FAULT_SIGBUS;
  const ip = daxLockFault(c, vmf);
  try {
    if (pastEof(c, ip, vmf)) return VM_FAULT_SIGBUS;
    const b = bmapLookupFast(c, ip.ino, vmf.pgoff);
    if (b <= 0 || badblockTest(vmf.mem, b)) return VM_FAULT_NOPAGE;
    const pfn = daxBlockPfn(c, b);
    if (isErr(pfn)) return faultError(pfn);
    const r = insertMixed(vmf.mem, vmf.mm, vmf.vma, vmf.address, pfn, true);
    if (r === VM_FAULT_NOPAGE) countFault(vmf.mem, FAULT_KIND.dax, vmf.address, pfn);
    return r;
  } finally {
    daxUnlockFault(c, ip, vmf);
  }
}

/**
 * A write(2) or O_DIRECT write just filled hole `pgoff` of `ip`: take the
 * zero page out of every process that mapped it there (Linux's dax write
 * path invalidating IOMAP_F_NEW ranges). Call after the block pointer is
 * published. Entry: i_rwsem held; no DAX entry, page or i_mmap lock.
 */
export function daxHoleFilled(c: XipCtx, ip: InodeRef, pgoff: number): void {
  if (Atomics.load(c.k32, islotBase(c, ip.slot) + ISLOT.iMmap) === 0) return;
  unmapMappingRange(c.mem, ip.slot, pgoff, 1);
}
