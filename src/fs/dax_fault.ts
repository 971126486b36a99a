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
 * table of words (layout.ts DAXENT). Two pages that hash to one word only
 * serialise each other; there is no deadlock because no task ever holds two
 * entries. The entry lock makes "look up the block, decide, map" atomic
 * against another fault on the same page, which is what lets two processes
 * write-fault one hole and end up on one block with both stores kept
 * (getBlock's block-map lock alone would give one block, but a read fault
 * could map the zero page after the write fault's unmap).
 *
 * Stats: a fault that maps a device frame counts STAT.faultDax; a read fault
 * on a hole maps no device frame and counts STAT.faultZero, as an anonymous
 * read of the zero page does (Linux's dax_load_hole); a private write counts
 * STAT.faultCow (in doCowFault), since what it maps is a RAM copy.
 *
 * Per thread: each Worker loads its own copy of this module and calls
 * installFileMm (file_mm.ts) with its own XipFs, which registers these ops.
 *
 * @module
 */

import {
  DAXENT_LOCK_BIT,
  DAXENT_WORDS,
  DAXPMD_LOCK_WORDS,
  DAXPMD_LOCKS,
  ISLOT,
} from "../abi/layout.ts";
import { ENOMEM } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { ACCESS_WRITE, pfnToPte, PTE_A, PTE_SPECIAL, PTE_U, PTE_V, pteToPfn } from "../abi/sv32.ts";
import { asPte, blockToSector, PAGE_SIZE, type Pfn } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import {
  copyUserPage,
  insertMixed,
  VM_FAULT_DONE_COW,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
} from "../mm/fault.ts";
import { countFault, FAULT_KIND } from "../mm/fault_ring.ts";
import { ptlLock, ptlUnlock, zeroPfn } from "../mm/mm.ts";
import { HPAGE_PMD_NR, physWords, vmPteBits, walk, WALK_HUGE } from "../mm/pgtable.ts";
import { unmapMappingRange } from "../mm/rmap.ts";
import { VM_SHARED, vmaFile, vmaFlags, type VmFault } from "../mm/vma.ts";
import { bitLock, bitUnlock, downRead, LockClass, upRead } from "../sync/mod.ts";
import { perturb } from "../sync/debug.ts";
import { markBlockDirty } from "./balloc.ts";
import { bmapLookupFast, getBlock } from "./getblock.ts";
import { slotInode } from "./icache.ts";
import { inodeGetSize } from "./xipfs_format.ts";
import { type InodeRef, islotBase, type XipCtx } from "./xipfs_ctx.ts";

/** Pages needed to hold `size` bytes. */
export const sizePages = (size: number): number => Math.ceil(size / PAGE_SIZE);

/**
 * The inode a file VMA maps. The VMA holds a reference (its open), so the
 * slot cannot change hands while the VMA exists.
 *
 * @throws KernelPanic when the slot holds no inode
 */
export function vmaInode(c: XipCtx, vma: number): InodeRef {
  const ip = slotInode(c, vmaFile(c.mem, vma));
  if (ip === null) throw new KernelPanic("vmaInode", `vma ${vma} maps an empty inode slot`);
  return ip;
}

/** Word index of the DAX entry lock for (inode slot, pgoff). */
export function daxEntryWord(mem: Memory, slot: number, pgoff: number): number {
  const h = (Math.imul(slot, 0x9e37_79b1) ^ Math.imul(pgoff + 1, 0x85eb_ca6b)) >>> 0;
  return mem.layout.daxent.base + ((h ^ (h >>> 15)) & (DAXENT_WORDS - 1));
}

/**
 * Word index of the PMD-range lock of (inode slot, pgoff): the rwsem that
 * makes a DAX entry cover a 4 MiB range (layout.ts DAXPMD, dax_pmd.ts).
 */
export function daxPmdLockWord(mem: Memory, slot: number, pgoff: number): number {
  const range = Math.floor(pgoff / HPAGE_PMD_NR);
  const h = (Math.imul(slot, 0x9e37_79b1) ^ Math.imul(range + 1, 0x85eb_ca6b)) >>> 0;
  return mem.layout.daxpmd.base + ((h ^ (h >>> 15)) & (DAXPMD_LOCKS - 1)) * DAXPMD_LOCK_WORDS;
}

/** Lock the DAX entry of (slot, pgoff). Entry: invalidate_lock held; no entry or page lock. */
export function daxLockEntry(mem: Memory, slot: number, pgoff: number): void {
  bitLock(mem.k32, daxEntryWord(mem, slot, pgoff), DAXENT_LOCK_BIT, LockClass.DAX_ENTRY);
}

/** Unlock the DAX entry of (slot, pgoff). */
export function daxUnlockEntry(mem: Memory, slot: number, pgoff: number): void {
  bitUnlock(mem.k32, daxEntryWord(mem, slot, pgoff), DAXENT_LOCK_BIT);
}

/**
 * The device frame holding device block `b`, through directAccess (the only
 * route from a file block to device memory).
 *
 * @returns the pfn, or -errno
 */
export function daxBlockPfn(c: XipCtx, b: number): Pfn | number {
  if (c.mdev === null) throw new KernelPanic("daxBlockPfn", "DAX on a device without directAccess");
  const da = c.mdev.directAccess(blockToSector(b as never), PAGE_SIZE);
  if (typeof da === "number") return da;
  return da.avail < PAGE_SIZE ? -ENOMEM : da.pfn;
}

/** VM_FAULT_* for a getBlock/directAccess error (Linux's vmf_error). */
export const faultError = (err: number): number => err === -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;

/**
 * Run `body` with invalidate_lock (read), the PMD-range lock of vmf.pgoff
 * (read: no megapage fault of the range runs meanwhile) and its DAX entry
 * held, after re-checking i_size under them: a page at or past EOF is
 * VM_FAULT_SIGBUS. Entry: mmap_lock held for reading.
 */
function withEntry(c: XipCtx, vmf: VmFault, body: (ip: InodeRef) => number): number {
  const ip = vmaInode(c, vmf.vma);
  const inval = islotBase(c, ip.slot) + ISLOT.invalidateLock;
  const pmdLock = daxPmdLockWord(c.mem, ip.slot, vmf.pgoff);
  downRead(c.k32, inval, LockClass.INVALIDATE_LOCK);
  downRead(c.k32, pmdLock, LockClass.DAX_PMD);
  daxLockEntry(c.mem, ip.slot, vmf.pgoff);
  try {
    if (vmf.pgoff >= sizePages(inodeGetSize(c.vol, ip.ino))) return VM_FAULT_SIGBUS;
    return body(ip);
  } finally {
    daxUnlockEntry(c.mem, ip.slot, vmf.pgoff);
    upRead(c.k32, pmdLock);
    upRead(c.k32, inval);
  }
}

/**
 * Read fault on a hole (Linux's dax_load_hole): map the shared zero page
 * read-only with pte_special, so nothing counts it, and allocate nothing.
 * A write(2) fills holes without our entry lock, so after mapping, look
 * again: if a block appeared meanwhile, take the zero page back out (the
 * writer unmaps after publishing its block, so one of us always does).
 */
function daxLoadHole(c: XipCtx, ip: InodeRef, vmf: VmFault): number {
  const { mem, mm } = vmf;
  const ptw = walk(mem, mm, vmf.address, true);
  if (ptw === WALK_HUGE) return VM_FAULT_NOPAGE; // another Worker mapped a megapage
  if (ptw < 0) return VM_FAULT_OOM;
  const bits = PTE_V | PTE_U | PTE_A | vmPteBits(vmaFlags(mem, vmf.vma), false) | PTE_SPECIAL;
  const pte = pfnToPte(zeroPfn(mem), bits);
  ptlLock(mem, mm);
  const won =
    Atomics.compareExchange(physWords(mem), ptw, vmf.origPte | 0, pte | 0) === (vmf.origPte | 0);
  ptlUnlock(mem, mm);
  if (won) countFault(mem, FAULT_KIND.zero, vmf.address, zeroPfn(mem));
  if (bmapLookupFast(c, ip.ino, vmf.pgoff) !== 0) unmapMappingRange(mem, ip.slot, vmf.pgoff, 1);
  return VM_FAULT_NOPAGE;
}

/**
 * Shared write to page vmf.pgoff (first touch, or a read-only PTE being
 * made writable): allocate the block if it is a hole, unmap the zero page
 * from every process that mapped it for this page, map the block writable
 * and mark it dirty for fsync. Entry: invalidate_lock and the entry held.
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
  const pfn = daxBlockPfn(c, b);
  if (pfn < 0) return faultError(pfn);
  markBlockDirty(c, b);
  const r = insertMixed(mem, vmf.mm, vmf.vma, vmf.address, pfn as Pfn, true);
  if (r === VM_FAULT_NOPAGE) countFault(mem, FAULT_KIND.dax, vmf.address, pfn as Pfn);
  return r;
}

/**
 * The DAX fault handler (VmOperations.fault of S_DAX files). Entry:
 * mmap_lock held for reading, nothing else. Takes invalidate_lock (read)
 * and the DAX entry; getBlock takes the block-map lock under them.
 *
 * @returns VM_FAULT_NOPAGE (PTE installed or another Worker won),
 *   VM_FAULT_DONE_COW (vmf.cowPage filled), VM_FAULT_SIGBUS (past EOF,
 *   ENOSPC, I/O error), VM_FAULT_OOM
 */
export function daxFault(c: XipCtx, vmf: VmFault): number {
  return withEntry(c, vmf, (ip) => {
    const { mem } = vmf;
    if (vmf.cowPage !== 0) {
      // Private write: COW straight from the device frame, which may have
      // no struct page (Linux's cow_user_page on a pfn); a hole copies zeros.
      const b = getBlock(c, ip, vmf.pgoff, false);
      if (b < 0) return faultError(b);
      if (b === 0) mem.u8.fill(0, vmf.cowPage * PAGE_SIZE, (vmf.cowPage + 1) * PAGE_SIZE);
      else {
        const src = daxBlockPfn(c, b);
        if (src < 0) return faultError(src);
        copyUserPage(mem, vmf.cowPage, src as Pfn);
      }
      return VM_FAULT_DONE_COW;
    }
    const shared = (vmaFlags(mem, vmf.vma) & VM_SHARED) !== 0;
    if (vmf.access === ACCESS_WRITE && shared) return daxSharedWrite(c, ip, vmf);
    const b = getBlock(c, ip, vmf.pgoff, false);
    if (b < 0) return faultError(b);
    if (b === 0) return daxLoadHole(c, ip, vmf);
    const pfn = daxBlockPfn(c, b);
    if (pfn < 0) return faultError(pfn);
    const r = insertMixed(mem, vmf.mm, vmf.vma, vmf.address, pfn as Pfn, false);
    if (r === VM_FAULT_NOPAGE) countFault(mem, FAULT_KIND.dax, vmf.address, pfn as Pfn);
    return r;
  });
}

/**
 * A read-only PTE of a shared DAX mapping is written (Linux's
 * dax_pfn_mkwrite / page_mkwrite): the zero page is replaced by a new block
 * in every process; a device frame is marked dirty and made writable.
 * Entry and locks as daxFault.
 *
 * @returns VM_FAULT_NOPAGE (done), VM_FAULT_SIGBUS, VM_FAULT_OOM
 */
export function daxPfnMkwrite(c: XipCtx, vmf: VmFault): number {
  return withEntry(c, vmf, (ip) => daxSharedWrite(c, ip, vmf));
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
