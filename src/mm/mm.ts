/**
 * Address spaces (struct mm_struct) in the shared `mms` table: creation,
 * references, the two locks, releasing unmapped frames after a shootdown
 * (the mmu_gather finish), and teardown. Also the shared zero page.
 *
 * The user address space is [MMAP_MIN_ADDR, TASK_SIZE). TASK_SIZE is 2 GiB
 * so that every user address and VMA bound is a non-negative int32 word.
 *
 * Accounting (read by machine.stats): per mm, rssAnon, rssFile and ptFrames;
 * machine-wide, MMG.anonFrames and MMG.pagetableFrames.
 *
 * @module
 */

import { asErrno, ENOMEM, type Errno, isErr } from "../abi/errno.ts";
import { MM, MM_DYING, MM_FREE, MM_LIVE, MM_WORDS, mmBase, MMG } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { PTE_D, pteIsSpecial, pteToPfn } from "../abi/sv32.ts";
import { asMmId, asPfn, asVirt, type MmId, type Pfn, type Pte } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { allocFrame, allocFrameReclaim } from "./frame_alloc.ts";
import {
  getPage,
  pageAddMapcount,
  pfnValid,
  PG_anon,
  PG_dirty,
  PG_pagetable,
  putPage,
  setPageFlag,
  testPageFlag,
} from "./memmap.ts";
import {
  downRead,
  downWrite,
  LockClass,
  mutexLock,
  mutexUnlock,
  noKillEnter,
  noKillExit,
  upRead,
  upWrite,
} from "./_sync.ts";
import { freePgtables, freeTable, type MmuGather, newGather, unmapRange } from "./pgtable.ts";
import { flushTlbMm } from "./tlb_flush.ts";
import { vmaFile, vmaFirst, vmaFree, vmaNext, vmaOpsId, vmaUnlink, vmOps } from "./vma.ts";

/** End of user space (exclusive). */
export const TASK_SIZE = 0x8000_0000;
/** Lowest address mmap hands out; page 0 stays unmapped so NULL faults. */
export const MMAP_MIN_ADDR = 0x1000;
/** Default top of the top-down mmap search; exec may move it (setMmapBase). */
export const MMAP_BASE = 0x7000_0000;

const mw = (mem: Memory, mm: MmId, field: number): number => mmBase(mem.layout, mm) + field;

/** Read a field of mm `mm` (atomically; counters change under no lock). */
export const mmField = (mem: Memory, mm: MmId, field: number): number =>
  Atomics.load(mem.k32, mw(mem, mm, field));

// ---------------------------------------------------------------------------
// The zero page.

/**
 * Boot the mm layer: allocate the shared zero page and the [vdso] page.
 * Main thread, once, after createMemory and before any mm exists. Both keep
 * their allocation reference forever.
 *
 * @returns 0, or -ENOMEM
 */
export function mmBoot(mem: Memory): number {
  const w = mem.layout.mmg.base + MMG.zeroPfn;
  if (Atomics.load(mem.k32, w) !== 0) throw new KernelPanic("mmBoot", "already booted");
  const pfn = allocFrame(mem, { zero: true });
  if (pfn < 0) return pfn;
  Atomics.store(mem.k32, w, pfn + 1);
  // The [vdso] page (Linux's vdso pages, kept for the life of the kernel);
  // the kernel writes its code (src/kernel/vdso.ts).
  const vdso = allocFrame(mem, { zero: true });
  if (vdso < 0) return vdso;
  Atomics.store(mem.k32, mem.layout.mmg.base + MMG.vdsoPfn, vdso + 1);
  return 0;
}

/** The [vdso] page's pfn (-1 before mmBoot). */
export const vdsoPagePfn = (mem: Memory): Pfn =>
  asPfn(Atomics.load(mem.k32, mem.layout.mmg.base + MMG.vdsoPfn) - 1);

/** The shared zero page's pfn (-1 before mmBoot). */
export const zeroPfn = (mem: Memory): Pfn =>
  asPfn(Atomics.load(mem.k32, mem.layout.mmg.base + MMG.zeroPfn) - 1);

/** Machine-wide gauges of the mm layer, in frames. */
export function mmGauges(mem: Memory): { pagetableFrames: number; anonFrames: number } {
  const g = mem.layout.mmg.base;
  return {
    pagetableFrames: Atomics.load(mem.k32, g + MMG.pagetableFrames),
    anonFrames: Atomics.load(mem.k32, g + MMG.anonFrames),
  };
}

// ---------------------------------------------------------------------------
// Locks.

/**
 * mmap_lock for reading (faults, lookups). Entry: no lock ranked inside
 * MMAP_LOCK held (i_rwsem may be); returns with it held for reading (drop it
 * with mmapReadUnlock).
 */
export const mmapReadLock = (mem: Memory, mm: MmId): void =>
  downRead(mem.k32, mw(mem, mm, MM.mmapLock), LockClass.MMAP_LOCK);
export const mmapReadUnlock = (mem: Memory, mm: MmId): void =>
  upRead(mem.k32, mw(mem, mm, MM.mmapLock));
/**
 * mmap_lock for writing (mmap, munmap, mprotect, brk, exit). The section is
 * a no-kill region (src/sync/current.ts): it relinks VMAs, opens and closes
 * them and moves PTEs in steps no lock records, so a killed task stops
 * before taking the lock or when it releases it, never half-way through.
 */
export function mmapWriteLock(mem: Memory, mm: MmId): void {
  downWrite(mem.k32, mw(mem, mm, MM.mmapLock), LockClass.MMAP_LOCK);
  noKillEnter();
}
export function mmapWriteUnlock(mem: Memory, mm: MmId): void {
  noKillExit();
  upWrite(mem.k32, mw(mem, mm, MM.mmapLock));
}
/**
 * page_table_lock: guards changes to the mm's PTEs. Entry: nothing ranked
 * inside PAGE_TABLE held (no inode-cache, page-cache or leaf lock); returns
 * with it held.
 */
export const ptlLock = (mem: Memory, mm: MmId): void =>
  mutexLock(mem.k32, mw(mem, mm, MM.pageTableLock), LockClass.PAGE_TABLE);
export const ptlUnlock = (mem: Memory, mm: MmId): void =>
  mutexUnlock(mem.k32, mw(mem, mm, MM.pageTableLock));

// ---------------------------------------------------------------------------
// Creation and references.

/**
 * Create an empty address space: a slot, a root page table, no VMAs, one
 * user. Safe from any thread; takes no lock.
 *
 * @returns the mm slot (>= 1), or -ENOMEM when no slot or frame is free
 */
export function mmAlloc(mem: Memory): MmId | Errno {
  const k32 = mem.k32;
  const n = mem.layout.config.maxTasks;
  for (let slot = 1; slot < n; slot++) {
    const mm = asMmId(slot);
    if (Atomics.compareExchange(k32, mw(mem, mm, MM.state), MM_FREE, MM_DYING) !== MM_FREE) {
      continue;
    }
    const root = allocFrameReclaim(mem, { zero: true }); // no lock held: reclaim may run
    if (isErr(root)) {
      Atomics.store(k32, mw(mem, mm, MM.state), MM_FREE);
      return asErrno(-ENOMEM);
    }
    setPageFlag(mem, root, PG_pagetable);
    const b = mmBase(mem.layout, mm);
    const gen = k32[b + MM.tlbGen]!; // generations keep running across reuse
    k32.fill(0, b + MM.users, b + MM_WORDS);
    k32[b + MM.tlbGen] = gen;
    k32[b + MM.root] = root;
    k32[b + MM.mmapBase] = MMAP_BASE;
    k32[b + MM.ptFrames] = 1;
    Atomics.add(k32, mem.layout.mmg.base + MMG.pagetableFrames, 1);
    Atomics.store(k32, b + MM.users, 1);
    Atomics.store(k32, b + MM.state, MM_LIVE);
    return mm;
  }
  return asErrno(-ENOMEM);
}

/** Take a user reference (a new thread sharing the mm). */
export function mmGet(mem: Memory, mm: MmId): void {
  if (Atomics.add(mem.k32, mw(mem, mm, MM.users), 1) <= 0) {
    throw new KernelPanic("mmGet", `mm ${mm} has no users`);
  }
}

/**
 * Drop a user reference; the last one tears the mm down (exitMmap). Entry:
 * the calling task no longer runs the mm in user mode; no lock held.
 */
export function mmPut(mem: Memory, mm: MmId): void {
  const left = Atomics.sub(mem.k32, mw(mem, mm, MM.users), 1) - 1;
  if (left < 0) throw new KernelPanic("mmPut", `mm ${mm} users underflow`);
  if (left === 0) exitMmap(mem, mm);
}

/** Set the top of the mmap search area (exec, below the stack). Entry: mmap_lock write. */
export function setMmapBase(mem: Memory, mm: MmId, base: number): void {
  mem.k32[mw(mem, mm, MM.mmapBase)] = base;
}

// ---------------------------------------------------------------------------
// Releasing frames.

/**
 * Drop what one cleared leaf PTE held: the mapcount and reference of a
 * refcounted frame, and the rss count. Special PTEs (no struct page) and the
 * zero page hold nothing. A file page that the hart dirtied is marked
 * PG_dirty so writeback sees it (Linux's zap_pte_range does set_page_dirty).
 * Entry: the TLB shootdown for the PTE has completed.
 */
export function releasePte(mem: Memory, mm: MmId, pte: Pte): void {
  if (pteIsSpecial(pte)) return;
  const pfn = pteToPfn(pte);
  if (pfn === zeroPfn(mem)) return;
  if (!pfnValid(mem, pfn)) {
    throw new KernelPanic(
      "releasePte",
      `normal pte 0x${pte.toString(16)} names pfn ${pfn} with no struct page`,
    );
  }
  pageAddMapcount(mem, pfn, -1);
  if (testPageFlag(mem, pfn, PG_anon)) {
    Atomics.sub(mem.k32, mw(mem, mm, MM.rssAnon), 1);
    Atomics.sub(mem.k32, mem.layout.mmg.base + MMG.anonFrames, 1);
  } else {
    Atomics.sub(mem.k32, mw(mem, mm, MM.rssFile), 1);
    if ((pte & PTE_D) !== 0) setPageFlag(mem, pfn, PG_dirty);
  }
  putPage(mem, pfn);
}

/**
 * Account a new refcounted mapping of `pfn` (the counterpart of
 * releasePte): takes a reference unless `haveRef`, bumps the mapcount and
 * the rss counter. Entry: page_table_lock held.
 */
export function accountMap(mem: Memory, mm: MmId, pfn: Pfn, haveRef: boolean): void {
  if (!haveRef) getPage(mem, pfn);
  pageAddMapcount(mem, pfn, 1);
  if (testPageFlag(mem, pfn, PG_anon)) {
    Atomics.add(mem.k32, mw(mem, mm, MM.rssAnon), 1);
    Atomics.add(mem.k32, mem.layout.mmg.base + MMG.anonFrames, 1);
  } else {
    Atomics.add(mem.k32, mw(mem, mm, MM.rssFile), 1);
  }
}

/**
 * Finish an unmap (Linux's tlb_finish_mmu): shoot down the TLBs of every
 * hart running `mm`, then release the gathered frames and page tables.
 * Entry: page_table_lock not held (releasing may free frames, which is fine
 * under it, but keep the hold short).
 */
export function tlbFinishMmu(mem: Memory, mm: MmId, g: MmuGather): void {
  if (g.ptes.length === 0 && g.tables.length === 0) return;
  flushTlbMm(mem, mm);
  for (const pte of g.ptes) releasePte(mem, mm, pte);
  for (const t of g.tables) freeTable(mem, mm, t);
  g.ptes.length = 0;
  g.tables.length = 0;
}

// ---------------------------------------------------------------------------
// Teardown.

/**
 * Tear down mm `mm` (Linux's exit_mmap plus __mmdrop): close and free every
 * VMA, unmap and release every page, free every page table and the slot.
 * Entry: no task runs the mm any more (users is 0); no lock held.
 */
export function exitMmap(mem: Memory, mm: MmId): void {
  const k32 = mem.k32;
  if (Atomics.compareExchange(k32, mw(mem, mm, MM.state), MM_LIVE, MM_DYING) !== MM_LIVE) {
    throw new KernelPanic("exitMmap", `mm ${mm} is not live`);
  }
  const g = newGather();
  mmapWriteLock(mem, mm);
  // Pages first, then VMAs, so an rmap walker never misses a PTE (see munmapLocked).
  ptlLock(mem, mm);
  unmapRange(mem, mm, asVirt(0), asVirt(TASK_SIZE), g);
  freePgtables(mem, mm, asVirt(0), asVirt(TASK_SIZE), g);
  ptlUnlock(mem, mm);
  tlbFinishMmu(mem, mm, g);
  for (let v = vmaFirst(mem, mm); v !== 0;) {
    const next = vmaNext(mem, v);
    if (vmaFile(mem, v) !== 0) vmOps(vmaOpsId(mem, v))?.close?.(mem, v);
    vmaUnlink(mem, mm, v);
    vmaFree(mem, v);
    v = next;
  }
  mmapWriteUnlock(mem, mm);
  const root = asPfn(k32[mw(mem, mm, MM.root)]!);
  k32[mw(mem, mm, MM.root)] = 0;
  freeTable(mem, mm, root);
  if (k32[mw(mem, mm, MM.ptFrames)] !== 0) {
    throw new KernelPanic("exitMmap", `mm ${mm} leaks ${k32[mw(mem, mm, MM.ptFrames)]} table(s)`);
  }
  Atomics.store(k32, mw(mem, mm, MM.state), MM_FREE);
}
