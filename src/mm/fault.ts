/**
 * The page-fault path, as a tree of dispatchers in the manner of Linux's
 * mm/memory.c:
 *
 * ```
 * handleMmFault ── mmap_lock(read), findVma, access check
 *   ├ handleHugePmd ── a 4 MiB megapage, when the VMA and the file allow one (huge_memory.ts)
 *   └ handlePteFault ── walk (allocating the level-0 table)
 *       ├ PTE empty, anonymous ── doAnonymousPage: read → zero page, write → fresh frame
 *       ├ PTE empty, file ─────── doFault → VmOperations.fault
 *       │    read: doReadFault   private write: doCowFault   shared write: doSharedFault
 *       ├ write to a read-only PTE ── doWpPage: reuse, copy (wpPageCopy), or shared mkwrite
 *       └ otherwise: spurious (another Worker got there first), just mark it young
 * ```
 *
 * Nothing is held across an allocation or a VmOperations call except the
 * mmap_lock (read); every PTE change happens under page_table_lock after a
 * pte_same re-check, so a Worker that lost a race backs out and the hart
 * simply retries the instruction.
 *
 * @module
 */

import {
  type Access,
  ACCESS_WRITE,
  pfnToPte,
  PTE_A,
  PTE_D,
  PTE_R,
  PTE_SPECIAL,
  PTE_U,
  PTE_V,
  PTE_W,
  pteIsSpecial,
  pteToPfn,
} from "../abi/sv32.ts";
import { ENOMEM, type Errno, isErr } from "../abi/errno.ts";
import { VMSTAT } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import {
  asPte,
  asVirt,
  type MmId,
  PAGE_SIZE,
  pageRoundDown,
  type Pfn,
  type Pte,
  type VirtAddr,
  type VmaId,
} from "../abi/types.ts";
import { type Memory, statAdd } from "../hw/memory.ts";
import { allocFrameReclaim, withReclaim } from "./frame_alloc.ts";
import {
  pageMapcount,
  pageRefcount,
  pfnIsDevice,
  pfnIsRam,
  pfnValid,
  PG_anon,
  PG_dirty,
  putPage,
  setPageFlag,
  testPageFlag,
} from "./memmap.ts";
import { noteDeviceMapped } from "./devmap.ts";
import { countFault, FAULT_KIND } from "./fault_ring.ts";
import {
  accountMap,
  MMAP_MIN_ADDR,
  mmapReadLock,
  mmapReadUnlock,
  mmapWriteLock,
  mmapWriteUnlock,
  ptlLock,
  ptlUnlock,
  releasePte,
  TASK_SIZE,
  zeroPfn,
} from "./mm.ts";
import {
  physWords,
  PTE_PROTNONE,
  pteLoad,
  pteModify,
  ptePresent,
  vmPteBits,
  walk,
  WALK_HUGE,
} from "./pgtable.ts";
import { handleHugePmd, VM_FAULT_FALLBACK } from "./huge_memory.ts";
import { flushTlbMm } from "./tlb_flush.ts";
import { noKillEnter, noKillExit } from "./_sync.ts";
import { perturb } from "../sync/debug.ts";
import {
  FAULT_FLAG_WRITE,
  findVma,
  VM_GROWSDOWN,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_SHARED,
  VM_WRITE,
  vmaAllows,
  vmaEnd,
  vmaFlags,
  vmaIsAnon,
  vmaOpsId,
  vmaPgoffOf,
  vmaPrev,
  vmaSetStart,
  vmaStart,
  type VmFault,
  type VmOperations,
  vmOps,
  VMOPS_NONE,
} from "./vma.ts";

// vm_fault_t bits, with Linux's values.
export const VM_FAULT_OOM = 0x1;
export const VM_FAULT_SIGBUS = 0x2;
/** The page is poisoned (memory failure): SIGBUS with BUS_MCEERR_AR. */
export const VM_FAULT_HWPOISON = 0x10;
export const VM_FAULT_MAJOR = 0x4;
export const VM_FAULT_SIGSEGV = 0x40;
export const VM_FAULT_NOPAGE = 0x100;
export const VM_FAULT_LOCKED = 0x200;
export const VM_FAULT_RETRY = 0x400;
export const VM_FAULT_DONE_COW = 0x1000;
/** The bits that mean the access cannot be satisfied. */
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON;

/** A and D may change under us (the hart sets them); pte_same ignores them. */
const AD = PTE_A | PTE_D;
const pteSame = (a: Pte, b: Pte): boolean => ((a ^ b) & ~AD) === 0;

/**
 * Not a Linux bit: handleMmFaultLocked's answer when `va` lies in the growth
 * zone below a VM_GROWSDOWN VMA. The caller must drop mmap_lock, call
 * expandStack, and retry (handleMmFault and uaccess do).
 */
export const VM_FAULT_EXPAND_STACK = 0x8000;

/** Most a VM_GROWSDOWN stack may grow to (Linux's default RLIMIT_STACK, 8 MiB). */
export const STACK_LIMIT = 8 << 20;
/** Room kept free below a stack (Linux's stack_guard_gap, 256 pages). */
export const STACK_GUARD_GAP = 256 * PAGE_SIZE;

/**
 * Resolve a fault on `va` for `access` in mm `mm`, as the hart's trap does.
 * Entry: no lock held (takes mmap_lock for reading, and briefly for writing
 * to grow a stack). The task should be in kernel mode (enterKernel). On
 * return 0 the hart retries the access (it may fault again if another
 * Worker changed the mapping meanwhile).
 *
 * @returns 0, or one of VM_FAULT_SIGSEGV (no VMA or not allowed),
 *   VM_FAULT_SIGBUS (the file cannot supply the page), VM_FAULT_OOM
 */
export function handleMmFault(mem: Memory, mm: MmId, va: VirtAddr, access: Access): number {
  for (let tries = 0;; tries++) {
    mmapReadLock(mem, mm);
    let r: number;
    try {
      r = handleMmFaultLocked(mem, mm, va, access);
    } finally {
      mmapReadUnlock(mem, mm);
    }
    if (r !== VM_FAULT_EXPAND_STACK) return r;
    if (tries > 0 || expandStackUnlocked(mem, mm, va) < 0) return VM_FAULT_SIGSEGV;
  }
}

/**
 * handleMmFault for callers that already hold mmap_lock (read or write):
 * copyFromUser, getUserPages, MAP_POPULATE, futexPhysWord. Same results,
 * plus VM_FAULT_EXPAND_STACK, which they must handle or treat as SIGSEGV.
 *
 * Entry: mmap_lock held (read or write), nothing ranked inside it. Takes and
 * drops page_table_lock, and for a file VMA whatever its fault handler takes
 * (invalidate_lock (read), the DAX_PMD range, the DAX entry or page lock,
 * and the block-map lock for a shared write: see daxFault, filemapFault);
 * returns with mmap_lock still held and nothing else.
 *
 * @returns 0, VM_FAULT_EXPAND_STACK, or one of VM_FAULT_SIGSEGV,
 *   VM_FAULT_SIGBUS, VM_FAULT_OOM
 */
export function handleMmFaultLocked(mem: Memory, mm: MmId, va: VirtAddr, access: Access): number {
  if (va >= TASK_SIZE) return VM_FAULT_SIGSEGV;
  const vma = findVma(mem, mm, va);
  if (vma === 0) return VM_FAULT_SIGSEGV;
  if (vmaStart(mem, vma) > va) {
    const grows = (vmaFlags(mem, vma) & VM_GROWSDOWN) !== 0;
    return grows && vmaEnd(mem, vma) - va <= STACK_LIMIT ? VM_FAULT_EXPAND_STACK : VM_FAULT_SIGSEGV;
  }
  if (!vmaAllows(vmaFlags(mem, vma), access)) return VM_FAULT_SIGSEGV;
  const huge = handleHugePmd(mem, mm, vma, va, access);
  if (huge !== VM_FAULT_FALLBACK) return huge & VM_FAULT_ERROR;
  const address = asVirt(pageRoundDown(va));
  let ptw = walk(mem, mm, address, true);
  // A missing page table is a frame to allocate too: reclaim the page cache
  // before failing, as for the page itself (only mmap_lock is held here).
  if (ptw === -ENOMEM) ptw = withReclaim(mem, () => walk(mem, mm, address, true));
  // A megapage appeared meanwhile (another Worker's fault): retry the access.
  if (ptw === WALK_HUGE) return 0;
  if (ptw < 0) return VM_FAULT_OOM;
  const vmf: MutableVmFault = {
    mem,
    mm,
    vma,
    address,
    pgoff: vmaPgoffOf(mem, vma, address),
    access,
    flags: access === ACCESS_WRITE ? FAULT_FLAG_WRITE : 0,
    ptw,
    origPte: pteLoad(physWords(mem), ptw),
    cowPage: 0,
    page: -1,
  };
  perturb(mem.k32); // DEBUG_PERTURB: widen the window between the walk and the handler
  return handlePteFault(vmf) & VM_FAULT_ERROR;
}

/**
 * Grow the VM_GROWSDOWN VMA above `va` down to cover it (Linux's
 * expand_stack): at most STACK_LIMIT in all, and never closer than
 * STACK_GUARD_GAP to the VMA below. Anonymous stacks only.
 * Entry: no lock held (takes mmap_lock for writing).
 *
 * @returns 0 (also when someone else already grew it), or -ENOMEM
 */
export function expandStackUnlocked(mem: Memory, mm: MmId, va: VirtAddr): number {
  mmapWriteLock(mem, mm);
  try {
    const v = findVma(mem, mm, va);
    if (v === 0 || (vmaFlags(mem, v) & VM_GROWSDOWN) === 0 || !vmaIsAnon(mem, v)) return -ENOMEM;
    if (vmaStart(mem, v) <= va) return 0;
    const start = pageRoundDown(va);
    const prev = vmaPrev(mem, v);
    const floor = prev === 0 ? MMAP_MIN_ADDR : vmaEnd(mem, prev) + STACK_GUARD_GAP;
    if (vmaEnd(mem, v) - start > STACK_LIMIT || start < floor) return -ENOMEM;
    vmaSetStart(mem, v, asVirt(start));
    return 0;
  } finally {
    mmapWriteUnlock(mem, mm);
  }
}

type MutableVmFault = { -readonly [K in keyof VmFault]: VmFault[K] };

function handlePteFault(vmf: MutableVmFault): number {
  const pte = vmf.origPte;
  if (!ptePresent(pte)) {
    // Linux's vma_is_anonymous is "no vm_ops": a special mapping ([vdso])
    // has operations but no file, and faults through them.
    return vmaOpsId(vmf.mem, vmf.vma) === VMOPS_NONE ? doAnonymousPage(vmf) : doFault(vmf);
  }
  if ((pte & PTE_PROTNONE) !== 0) {
    // mprotect rewrites every PTE of a VMA it makes accessible, under mmap_lock write.
    throw new KernelPanic(
      "handlePteFault",
      `PROT_NONE pte in an accessible vma at 0x${vmf.address.toString(16)}`,
    );
  }
  if (vmf.access === ACCESS_WRITE && (pte & PTE_W) === 0) return doWpPage(vmf);
  // Spurious: another Worker mapped it, or only A/D or R/X were missing.
  const { mem, mm } = vmf;
  const flags = vmaFlags(mem, vmf.vma);
  const add = vmPteBits(flags, false) |
    PTE_A | (vmf.access === ACCESS_WRITE ? PTE_D : 0);
  ptlLock(mem, mm);
  if (pteSame(pteLoad(physWords(mem), vmf.ptw), pte)) pteModify(physWords(mem), vmf.ptw, 0, add);
  ptlUnlock(mem, mm);
  return 0;
}

/** Leaf bits for a fresh PTE of `vma`, writable or not. */
function leafBits(mem: Memory, vma: VmaId, writable: boolean): number {
  const flags = vmaFlags(mem, vma);
  return PTE_V | PTE_U | PTE_A | (writable ? PTE_D : 0) |
    vmPteBits(flags, writable);
}

/**
 * Install a PTE for `pfn` at the faulting slot, unless the slot changed
 * since the walk (Linux's set_pte_range after the pte_same check of
 * finish_fault and do_anonymous_page). The one place a fault fills an empty
 * PTE. A `counted` frame's mapping is accounted, and the caller's reference
 * becomes the mapping's (accountMap); a frame that is not counted (the zero
 * page) gets pte_special. A writable file page is marked dirty under the
 * lock, before any writeback can see it clean.
 * Entry: mmap_lock held (read); takes and drops page_table_lock.
 *
 * @returns true when installed; false when another Worker changed the PTE
 *   first, and the caller still owns its reference
 */
export function setPte(vmf: VmFault, pfn: Pfn, writable: boolean, counted: boolean): boolean {
  const { mem, mm } = vmf;
  const p32 = physWords(mem);
  const bits = leafBits(mem, vmf.vma, writable) | (counted ? 0 : PTE_SPECIAL);
  ptlLock(mem, mm);
  const same = pteSame(pteLoad(p32, vmf.ptw), vmf.origPte);
  if (same) {
    Atomics.store(p32, vmf.ptw, pfnToPte(pfn, bits) | 0);
    if (counted) {
      accountMap(mem, mm, pfn, true);
      if (writable && !testPageFlag(mem, pfn, PG_anon)) setPageFlag(mem, pfn, PG_dirty);
    }
  }
  ptlUnlock(mem, mm);
  return same;
}

/**
 * Map the shared zero page read-only at the faulting address, with
 * pte_special so that nothing counts it (the read half of Linux's
 * do_anonymous_page, and dax_load_hole). Counts a zero fault when it won.
 * Entry: mmap_lock held (read).
 *
 * @returns true when this call installed it
 */
export function setZeroPte(vmf: VmFault): boolean {
  const won = setPte(vmf, zeroPfn(vmf.mem), false, false);
  if (won) countFault(vmf.mem, FAULT_KIND.zero, vmf.address, zeroPfn(vmf.mem));
  return won;
}

/**
 * A fresh anonymous frame for a fault: allocated (zeroed if `zero`, with
 * direct reclaim), marked PG_anon, its reference the caller's.
 * Entry: mmap_lock held (read) at most, inside a no-kill region.
 */
function allocAnonPage(mem: Memory, zero: boolean): Pfn | Errno {
  const pfn = allocFrameReclaim(mem, { zero });
  if (!isErr(pfn)) setPageFlag(mem, pfn, PG_anon);
  return pfn;
}

/**
 * First touch of an anonymous page (Linux's do_anonymous_page). A read maps
 * the shared zero page; a write gets a zeroed frame of its own.
 * Entry: mmap_lock held (read).
 */
function doAnonymousPage(vmf: MutableVmFault): number {
  if (vmf.access !== ACCESS_WRITE) {
    setZeroPte(vmf);
    return 0;
  }
  const { mem } = vmf;
  noKillEnter(); // no kill point while the new frame is ours alone (src/sync/current.ts)
  try {
    const pfn = allocAnonPage(mem, true);
    if (isErr(pfn)) return VM_FAULT_OOM;
    if (!setPte(vmf, pfn, true, true)) putPage(mem, pfn); // somebody else faulted it in
    else countFault(mem, FAULT_KIND.anon, vmf.address, pfn);
    return 0;
  } finally {
    noKillExit();
  }
}

/**
 * The struct page behind a PTE, or null when it must not be refcounted
 * (Linux's vm_normal_page): pte_special PTEs (VM_MIXEDMAP frames without a
 * struct page, VM_PFNMAP), the zero page, and any pfn without a struct page.
 */
export function vmNormalPage(mem: Memory, vma: VmaId, pte: Pte): Pfn | null {
  if (pteIsSpecial(pte)) return null;
  const pfn = pteToPfn(pte);
  if (pfn === zeroPfn(mem)) return null;
  if ((vmaFlags(mem, vma) & VM_PFNMAP) !== 0) return null;
  return pfnValid(mem, pfn) ? pfn : null;
}

/**
 * Copy frame `src` into frame `dst` (Linux's cow_user_page). `src` may be
 * any frame of physical memory, RAM or device, with or without a struct
 * page: DAX COW copies straight from the device. Counts VMSTAT.copiedCow.
 * Entry: the caller keeps `src` stable (page-table lock over a pte_same
 * PTE, a reference, or a DAX entry lock) and owns `dst`.
 */
export function copyUserPage(mem: Memory, dst: Pfn, src: Pfn): void {
  if (!pfnIsRam(mem, dst) || !(pfnIsRam(mem, src) || pfnIsDevice(mem, src))) {
    throw new KernelPanic("copyUserPage", `bad frames dst=${dst} src=${src}`);
  }
  mem.u8.copyWithin(dst * PAGE_SIZE, src * PAGE_SIZE, (src + 1) * PAGE_SIZE);
  statAdd(mem, VMSTAT.copiedCow, PAGE_SIZE);
}

/**
 * Write to a present, read-only PTE in a writable VMA (Linux's do_wp_page).
 * Shared file mappings become writable through page_mkwrite. A private
 * anonymous page that only this PTE maps and nothing pins is reused in
 * place. Everything else (the zero page, a file page, a device frame) is
 * copied into a fresh anonymous frame.
 * Entry: mmap_lock held (read).
 */
function doWpPage(vmf: MutableVmFault): number {
  const { mem, vma } = vmf;
  const page = vmNormalPage(mem, vma, vmf.origPte);
  const flags = vmaFlags(mem, vma);
  if ((flags & VM_SHARED) !== 0 && !vmaIsAnon(mem, vma)) return wpPageShared(vmf, page);
  if (
    page !== null && testPageFlag(mem, page, PG_anon) && pageRefcount(mem, page) === 1 &&
    pageMapcount(mem, page) === 1
  ) {
    return wpPageReuse(vmf);
  }
  return wpPageCopy(vmf);
}

/** Make the faulting PTE writable in place (exclusive anon page, or shared after mkwrite). */
function wpPageReuse(vmf: MutableVmFault, dirtyPage: Pfn | null = null): number {
  const { mem, mm } = vmf;
  const p32 = physWords(mem);
  ptlLock(mem, mm);
  if (pteSame(pteLoad(p32, vmf.ptw), vmf.origPte)) {
    pteModify(p32, vmf.ptw, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    if (dirtyPage !== null) setPageFlag(mem, dirtyPage, PG_dirty);
  }
  ptlUnlock(mem, mm);
  return 0;
}

/**
 * Break COW (Linux's wp_page_copy): copy the page the PTE maps (any frame;
 * the zero page is not copied, the new frame is just zeroed) into a fresh
 * anonymous frame and swap it in. Unlike setPte this replaces a present
 * PTE, so it clears and flushes the old one. The copy is made under the
 * page-table lock after pte_same, so a truncate, which must take that lock
 * to clear the PTE, cannot free the source mid-copy even when it is a
 * device frame that cannot be pinned. The old frame is released only after
 * the TLB shootdown.
 * Entry: mmap_lock held (read).
 *
 * Counts a COW fault (and VMSTAT.copiedCow), or an anonymous fault for the
 * zero page, since nothing is copied then.
 */
function wpPageCopy(vmf: MutableVmFault): number {
  const { mem, mm } = vmf;
  const p32 = physWords(mem);
  const src = pteToPfn(vmf.origPte);
  const fromZero = src === zeroPfn(mem);
  noKillEnter(); // no kill point while the new frame, or the old PTE's reference, is ours alone
  try {
    const pfn = allocAnonPage(mem, fromZero);
    if (isErr(pfn)) return VM_FAULT_OOM;
    ptlLock(mem, mm);
    if (!pteSame(pteLoad(p32, vmf.ptw), vmf.origPte)) {
      ptlUnlock(mem, mm);
      putPage(mem, pfn);
      return 0;
    }
    if (!fromZero) copyUserPage(mem, pfn, src);
    const old = asPte(
      Atomics.exchange(p32, vmf.ptw, pfnToPte(pfn, leafBits(mem, vmf.vma, true)) | 0),
    );
    accountMap(mem, mm, pfn, true);
    ptlUnlock(mem, mm);
    // Other Workers of this mm may still hold the old read-only translation.
    flushTlbMm(mem, mm);
    releasePte(mem, mm, old);
    countFault(mem, fromZero ? FAULT_KIND.anon : FAULT_KIND.cow, vmf.address, pfn);
    return 0;
  } finally {
    noKillExit();
  }
}

/** Write to a read-only PTE of a shared file mapping: page_mkwrite, then make it writable. */
function wpPageShared(vmf: MutableVmFault, page: Pfn | null): number {
  const ops = vmOps(vmaOpsId(vmf.mem, vmf.vma));
  if (ops?.pageMkwrite !== undefined) {
    const r = ops.pageMkwrite(ops.ctx, vmf);
    if ((r & VM_FAULT_ERROR) !== 0) return r;
    if ((r & VM_FAULT_NOPAGE) !== 0) return 0;
  }
  return wpPageReuse(vmf, page);
}

/**
 * First touch of a file page (Linux's do_fault): dispatch on read, private
 * write, shared write. Entry: mmap_lock held (read).
 */
function doFault(vmf: MutableVmFault): number {
  const ops = vmOps(vmaOpsId(vmf.mem, vmf.vma));
  if (ops === undefined) return VM_FAULT_SIGBUS;
  if (vmf.access !== ACCESS_WRITE) return doReadFault(vmf, ops);
  if ((vmaFlags(vmf.mem, vmf.vma) & VM_SHARED) === 0) return doCowFault(vmf, ops);
  return doSharedFault(vmf, ops);
}

/** Read of an unmapped file page (Linux's do_read_fault). Entry: mmap_lock held (read). */
function doReadFault(vmf: MutableVmFault, ops: VmOperations): number {
  const r = ops.fault(ops.ctx, vmf);
  if ((r & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) !== 0) return r;
  return finishFault(vmf);
}

/**
 * Private write to an unmapped file page (Linux's do_cow_fault): the
 * handler either fills vmf.cowPage itself (VM_FAULT_DONE_COW, the DAX way,
 * copying from the device under its entry lock: dax_fault_cow_page) or
 * hands back a page to copy from. Entry: mmap_lock held (read).
 */
function doCowFault(vmf: MutableVmFault, ops: VmOperations): number {
  const { mem } = vmf;
  noKillEnter(); // no kill point while vmf.cowPage is ours alone (src/sync/current.ts)
  try {
    const cow = allocAnonPage(mem, false);
    if (isErr(cow)) return VM_FAULT_OOM;
    vmf.cowPage = cow;
    const r = ops.fault(ops.ctx, vmf);
    const src = vmf.page;
    if ((r & VM_FAULT_ERROR) !== 0 || ((r & VM_FAULT_DONE_COW) === 0 && src === -1)) {
      putPage(mem, cow);
      return r;
    }
    if ((r & VM_FAULT_DONE_COW) === 0 && src !== -1) {
      copyUserPage(mem, cow, src);
      putPage(mem, src);
    }
    return finishFault(vmf);
  } finally {
    noKillExit();
  }
}

/** Shared write to an unmapped file page (Linux's do_shared_fault). Entry: mmap_lock held (read). */
function doSharedFault(vmf: MutableVmFault, ops: VmOperations): number {
  const r = ops.fault(ops.ctx, vmf);
  if ((r & (VM_FAULT_ERROR | VM_FAULT_NOPAGE)) !== 0) return r;
  if (ops.pageMkwrite !== undefined) {
    const m = ops.pageMkwrite(ops.ctx, vmf);
    if ((m & VM_FAULT_ERROR) !== 0) {
      if (vmf.page !== -1) putPage(vmf.mem, vmf.page);
      return m;
    }
  }
  return finishFault(vmf);
}

/**
 * Map the page a file fault produced (Linux's finish_fault): vmf.cowPage
 * for a private write, else vmf.page, whose reference the handler passed
 * to us. Backs out, dropping the reference, when the PTE is no longer the
 * one the walk saw. Entry: mmap_lock held (read).
 *
 * @returns 0 (the hart retries the access either way)
 */
function finishFault(vmf: MutableVmFault): number {
  const { mem } = vmf;
  const write = vmf.access === ACCESS_WRITE;
  const cow = write && (vmaFlags(mem, vmf.vma) & VM_SHARED) === 0;
  const page = cow ? vmf.cowPage : vmf.page;
  if (page === -1 || page === 0) {
    throw new KernelPanic("finishFault", "fault returned 0 without a page");
  }
  noKillEnter(); // the reference is ours alone until the PTE holds it
  try {
    if (!setPte(vmf, page, write, true)) putPage(mem, page);
    else if (cow) countFault(mem, FAULT_KIND.cow, vmf.address, page);
    return 0;
  } finally {
    noKillExit();
  }
}

/**
 * Map frame `pfn` at `va` of a VM_MIXEDMAP VMA (Linux's vmf_insert_mixed),
 * following the VM_MIXEDMAP rule: a frame with a struct page (pfnValid) is
 * refcounted (a reference and a mapcount), a frame without one is mapped
 * with pte_special and never counted. If a PTE is already there, a
 * `writable` insert of the same frame upgrades it (mkwrite); anything else
 * is left alone, since another Worker won the race.
 * Entry: mmap_lock held (read); page_table_lock not held.
 *
 * @returns VM_FAULT_NOPAGE (the PTE is in place, or a megapage maps `va`:
 *   retry the access) or VM_FAULT_OOM
 */
export function insertMixed(
  mem: Memory,
  mm: MmId,
  vma: VmaId,
  va: VirtAddr,
  pfn: Pfn,
  writable: boolean,
): number {
  if ((vmaFlags(mem, vma) & VM_MIXEDMAP) === 0) {
    throw new KernelPanic("insertMixed", `vma ${vma} is not VM_MIXEDMAP`);
  }
  if (writable && (vmaFlags(mem, vma) & VM_WRITE) === 0) {
    throw new KernelPanic("insertMixed", `writable insert into read-only vma ${vma}`);
  }
  const ptw = walk(mem, mm, asVirt(pageRoundDown(va)), true);
  if (ptw === WALK_HUGE) return VM_FAULT_NOPAGE; // a megapage maps it: retry
  if (ptw < 0) return VM_FAULT_OOM;
  const p32 = physWords(mem);
  const counted = pfnValid(mem, pfn);
  ptlLock(mem, mm);
  const cur = pteLoad(p32, ptw);
  if (ptePresent(cur)) {
    if (writable && pteToPfn(cur) === pfn && (cur & PTE_W) === 0) {
      pteModify(p32, ptw, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    }
  } else {
    const bits = leafBits(mem, vma, writable) | (counted ? 0 : PTE_SPECIAL);
    Atomics.store(p32, ptw, pfnToPte(pfn, bits) | 0);
    if (counted) accountMap(mem, mm, pfn, false);
    noteDeviceMapped(mem, pfn);
  }
  ptlUnlock(mem, mm);
  return VM_FAULT_NOPAGE;
}
