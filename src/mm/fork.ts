/**
 * Copying an address space for fork (Linux's dup_mm, dup_mmap and
 * copy_page_range, mm/memory.c copy_pte_range and copy_present_pte).
 *
 * Every VMA is duplicated into the new mm; a file VMA also takes its own
 * inode reference and goes on i_mmap right after the parent's VMA (see
 * immapInsertAfter). Then the PTEs are copied, one 4 MiB table at a time,
 * under the page-table locks of both mms, and each copied PTE follows
 * seed 004's rule, which is Linux's copy_present_pte:
 *
 * ```
 *  vmNormalPage(pte)   null: pte_special (a device frame with no struct
 *                      page in a VM_MIXEDMAP VMA, the zero page), VM_PFNMAP,
 *                      no struct page  -> copy the PTE, count nothing
 *                      a frame with a struct page (anonymous, page cache,
 *                      a device frame with a device memmap, a COW copy in a
 *                      MIXEDMAP VMA) -> get_page + mapcount + rss
 *  COW mapping         (private and may be written): a writable PTE is
 *                      write-protected in the parent *and* the child; the
 *                      first write of either copies or reuses (doWpPage)
 *  shared mapping      the PTE is copied as it is (the child's clean), so
 *                      both keep writing the same frame
 * ```
 *
 * A DAX megapage (a leaf in the root table) is copied as one entry
 * (copyHugePmd): it holds no reference and is never writable in a private
 * mapping, so parent and child simply share it.
 *
 * Which VMAs get their PTEs copied (Linux's vma_needs_copy): all but the
 * shared file mappings of the page cache, which the child refaults from
 * the cache. VM_MIXEDMAP (DAX) mappings are always copied, shared or not,
 * because a DAX PTE cannot be refaulted from a page cache: so DAX text
 * stays mapped in place in the child, from the same device frames.
 *
 * Locks: the parent's mmap_lock for writing for the whole copy (no fault
 * or mmap of the parent runs meanwhile), the child's nested inside it;
 * per table, the parent's page-table lock then the child's (nested). The
 * child's file VMAs are on i_mmap before their PTEs exist, so a truncate
 * racing the fork zaps whatever it copied (see immapInsertAfter). The
 * parent's TLBs are shot down before its mmap_lock is released, so no
 * sibling thread writes a page after the child could see it.
 *
 * @module
 */

import { PTE_D, PTE_W, pteIsTable, PTES_PER_TABLE, pteToPfn, px } from "../abi/sv32.ts";
import { MM, mmBase } from "../abi/layout/mod.ts";
import { asErrno, type Errno, isErr } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asPte, asVirt, type MmId, PAGE_SIZE, type VirtAddr, type VmaId } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { withReclaim } from "./frame_alloc.ts";
import { vmNormalPage } from "./fault.ts";
import {
  accountMap,
  mmAlloc,
  mmapWriteLock,
  mmapWriteUnlock,
  mmPut,
  ptlLock,
  ptlUnlock,
} from "./mm.ts";
import {
  mmRoot,
  PGDIR_SIZE,
  physWords,
  pmdIsHuge,
  pteLoad,
  pteModify,
  ptePresent,
  walk,
} from "./pgtable.ts";
import { flushTlbMm } from "./tlb_flush.ts";
import { downWrite, LockClass, mutexLock, mutexUnlock, upWrite } from "./_sync.ts";
import {
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_SHARED,
  vmaAlloc,
  vmaEnd,
  vmaFile,
  vmaFirst,
  vmaFlags,
  vmaLink,
  vmaNext,
  vmaOpsId,
  vmaPgoff,
  vmaStart,
  vmOps,
} from "./vma.ts";

/** Lockdep subclass of the child's locks, nested inside the parent's of the same class. */
const CHILD = 1;

/** A private mapping that may be written: its pages are shared copy-on-write (is_cow_mapping). */
export const isCowMapping = (flags: number): boolean =>
  (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;

/** Whether fork copies the PTEs of a VMA, or the child refaults them (vma_needs_copy). */
export function vmaNeedsCopy(mem: Memory, v: VmaId): boolean {
  const flags = vmaFlags(mem, v);
  if ((flags & (VM_MIXEDMAP | VM_PFNMAP)) !== 0) return true;
  return vmaFile(mem, v) === 0 || (flags & VM_SHARED) === 0;
}

/** How a copy ended. */
export interface ForkStats {
  /** PTEs copied into the child. */
  ptes: number;
  /** Of those, the ones that took a reference (vmNormalPage was a page). */
  counted: number;
  /** PTEs write-protected in the parent (and the child) for COW. */
  wrprotected: number;
}

/**
 * Make a new mm that is a copy of `oldMm` for a child process (Linux's
 * dup_mm). Entry: no lock held; the caller's task runs `oldMm` and is in
 * kernel mode. On failure nothing of the new mm is left.
 *
 * @returns the new mm slot, or -ENOMEM (no mm slot, VMA slot or frame)
 */
export function dupMm(mem: Memory, oldMm: MmId, stats?: ForkStats): MmId | Errno {
  const mm = mmAlloc(mem);
  if (isErr(mm)) return mm;
  const s = stats ?? { ptes: 0, counted: 0, wrprotected: 0 };
  let r: number;
  mmapWriteLock(mem, oldMm);
  try {
    r = dupMmap(mem, mm, oldMm, s);
    // Write-protected PTEs: no hart of the parent may keep writing through
    // an old translation once the child can see the page.
    if (s.wrprotected > 0) flushTlbMm(mem, oldMm);
  } finally {
    mmapWriteUnlock(mem, oldMm);
  }
  if (r < 0) {
    mmPut(mem, mm); // exitMmap undoes whatever was copied
    return asErrno(r);
  }
  return mm;
}

/** dupMm's copy. Entry: oldMm's mmap_lock held for writing; `mm` is new and private. */
function dupMmap(mem: Memory, mm: MmId, oldMm: MmId, s: ForkStats): number {
  const k32 = mem.k32;
  const nb = mmBase(mem.layout, mm), ob = mmBase(mem.layout, oldMm);
  downWrite(k32, nb + MM.mmapLock, LockClass.MMAP_LOCK, CHILD);
  try {
    for (const f of [MM.brkStart, MM.brk, MM.mmapBase, MM.vdso]) k32[nb + f] = k32[ob + f]!;
    for (let v = vmaFirst(mem, oldMm); v !== 0; v = vmaNext(mem, v)) {
      const n = vmaAlloc(
        mem,
        mm,
        vmaStart(mem, v),
        vmaEnd(mem, v),
        vmaFlags(mem, v),
        vmaFile(mem, v),
        vmaPgoff(mem, v),
        vmaOpsId(mem, v),
      );
      if (isErr(n)) return n;
      vmaLink(mem, mm, n);
      if (vmaFile(mem, n) !== 0) vmOps(vmaOpsId(mem, n))?.open?.(mem, n, v);
      if (!vmaNeedsCopy(mem, v)) continue;
      const r = copyPageRange(mem, mm, oldMm, v, s);
      if (r < 0) return r;
    }
    return 0;
  } finally {
    upWrite(k32, nb + MM.mmapLock);
  }
}

/**
 * Copy the PTEs of parent VMA `v` (of `oldMm`) into `mm` at the same
 * addresses (Linux's copy_page_range). Entry: both mmap_locks held for
 * writing; no page-table lock held.
 *
 * @returns 0, or -ENOMEM when a page table of the child cannot be allocated
 */
export function copyPageRange(
  mem: Memory,
  mm: MmId,
  oldMm: MmId,
  v: VmaId,
  s: ForkStats,
): number {
  const p32 = physWords(mem);
  const end = vmaEnd(mem, v);
  const oldRoot = mmRoot(mem, oldMm);
  for (let va: number = vmaStart(mem, v); va < end;) {
    const next = Math.min(end, Math.floor(va / PGDIR_SIZE) * PGDIR_SIZE + PGDIR_SIZE);
    const pde = pteLoad(p32, oldRoot * PTES_PER_TABLE + px(1, asVirt(va)));
    if (pmdIsHuge(pde)) {
      copyHugePmd(mem, mm, oldMm, v, asVirt(va), s);
    } else if (pteIsTable(pde)) {
      // The child's table first, with no page-table lock held: allocating
      // may reclaim, and reclaim zaps PTEs under page-table locks.
      const at = asVirt(va);
      const w = withReclaim(mem, () => walk(mem, mm, at, true));
      if (w < 0) return w;
      copyPteRange(mem, mm, oldMm, v, asVirt(va), asVirt(next), pteToPfn(pde), s);
    }
    va = next;
  }
  return 0;
}

/**
 * Copy a DAX megapage of the parent into the child as one root entry
 * (Linux's copy_huge_pmd, which DAX mappings skip and refault; xip keeps
 * them mapped in the child, as it keeps DAX PTEs). A megapage holds no
 * reference and is never writable in a private mapping, so the entry is
 * copied as it is (clean for a shared one). Takes both page-table locks.
 */
function copyHugePmd(
  mem: Memory,
  mm: MmId,
  oldMm: MmId,
  v: VmaId,
  va: VirtAddr,
  s: ForkStats,
): void {
  const p32 = physWords(mem);
  const dstPtl = mmBase(mem.layout, mm) + MM.pageTableLock;
  ptlLock(mem, oldMm);
  mutexLock(mem.k32, dstPtl, LockClass.PAGE_TABLE, CHILD);
  try {
    let pmd = pteLoad(p32, mmRoot(mem, oldMm) * PTES_PER_TABLE + px(1, va));
    if (!pmdIsHuge(pmd)) return;
    if ((vmaFlags(mem, v) & VM_SHARED) !== 0) pmd = asPte(pmd & ~PTE_D);
    const dw = mmRoot(mem, mm) * PTES_PER_TABLE + px(1, va);
    if (Atomics.compareExchange(p32, dw, 0, pmd | 0) !== 0) {
      throw new KernelPanic("copyHugePmd", `child root entry for 0x${va.toString(16)} already set`);
    }
    s.ptes++;
  } finally {
    mutexUnlock(mem.k32, dstPtl);
    ptlUnlock(mem, oldMm);
  }
}

/** Copy [start, end) within one 4 MiB table. Takes both page-table locks. */
function copyPteRange(
  mem: Memory,
  mm: MmId,
  oldMm: MmId,
  v: VmaId,
  start: VirtAddr,
  end: VirtAddr,
  srcTable: number,
  s: ForkStats,
): void {
  const p32 = physWords(mem);
  const flags = vmaFlags(mem, v);
  const cow = isCowMapping(flags);
  const dstPtl = mmBase(mem.layout, mm) + MM.pageTableLock;
  ptlLock(mem, oldMm);
  mutexLock(mem.k32, dstPtl, LockClass.PAGE_TABLE, CHILD);
  try {
    const dstTable = pteToPfn(pteLoad(p32, mmRoot(mem, mm) * PTES_PER_TABLE + px(1, start)));
    for (let va: number = start; va < end; va += PAGE_SIZE) {
      const sw = srcTable * PTES_PER_TABLE + px(0, asVirt(va));
      let pte = pteLoad(p32, sw);
      if (!ptePresent(pte)) continue;
      if (cow && (pte & PTE_W) !== 0) {
        // Atomically, so a D bit the hart sets meanwhile is kept.
        pte = asPte(pteModify(p32, sw, PTE_W, 0) & ~PTE_W);
        s.wrprotected++;
      }
      if ((flags & VM_SHARED) !== 0) pte = asPte(pte & ~PTE_D); // pte_mkclean for the child
      const dw = dstTable * PTES_PER_TABLE + px(0, asVirt(va));
      if (Atomics.compareExchange(p32, dw, 0, pte | 0) !== 0) {
        throw new KernelPanic("copyPteRange", `child pte at 0x${va.toString(16)} already set`);
      }
      const page = vmNormalPage(mem, v, pte);
      if (page !== null) {
        accountMap(mem, mm, page, false);
        s.counted++;
      }
      s.ptes++;
    }
  } finally {
    mutexUnlock(mem.k32, dstPtl);
    ptlUnlock(mem, oldMm);
  }
}
