/**
 * The memmap: one `struct page` per frame that has one, in the kernel-table
 * buffer (layout/mod.ts, PAGE record), shared by every Worker.
 *
 * RAM frames always have a struct page. Device frames have one only when
 * the machine runs with a device memmap (like ZONE_DEVICE); by default they
 * have none, `pfnValid` is false for them, and the fault path maps them with
 * pte_special and never refcounts them (VM_MIXEDMAP). Asking for the struct
 * page of a frame that has none is a kernel bug and panics.
 *
 * The accessors here use Atomics, so no lock is needed to touch a counter
 * or a flag. (The frame allocator alone writes a free frame's fields
 * plainly; its bitmap compareExchange orders those writes.) What the fields
 * mean:
 *
 * ```
 *  flags     PG_* bits below; PG_locked is a bit lock (src/sync bitLock on
 *            pageFlagsWord(pfn), bit PG_locked)
 *  refcount  references: the allocation itself (1 after allocFrame), each
 *            refcounted PTE, the page cache, pins; 0 = free (RAM)
 *  mapcount  PTEs mapping the frame; starts at 0 (Linux's _mapcount + 1)
 *  mapping   owning inode number of a page-cache page, 0 otherwise
 *  index     page offset within that file
 *  next/prev list links (pfns), -1 for none; private: the owner's word
 * ```
 *
 * @module
 */

import { PAGE, PAGE_WORDS } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asPfn, type Pfn } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { freeFrame } from "./frame_alloc.ts";

// PG_* are bit numbers in the flags word, as in Linux's enum pageflags.
/** Bit lock: the page is being read in, written back, truncated or otherwise changed. */
export const PG_locked = 0;
/** The contents are valid (a page-cache page that has been read in). */
export const PG_uptodate = 1;
/** Newer than the device: must be written back before it is dropped. */
export const PG_dirty = 2;
/** Being written back to the device (PG_dirty was cleared, the copy is under way). */
export const PG_writeback = 3;
/** Never allocated nor freed by the frame allocator (Linux PG_reserved). */
export const PG_reserved = 4;
/** Anonymous memory or a COW copy; Linux marks this in page->mapping (PAGE_MAPPING_ANON). */
export const PG_anon = 5;
/** A page-table page (Linux's PG_table page type). */
export const PG_pagetable = 6;

/** Flags a frame must not carry when it is freed (Linux's PAGE_FLAGS_CHECK_AT_FREE, reduced). */
export const PG_CHECK_AT_FREE = (1 << PG_locked) | (1 << PG_writeback) | (1 << PG_reserved);

/** True for a RAM frame. */
export function pfnIsRam(mem: Memory, pfn: Pfn): boolean {
  return Number.isInteger(pfn) && pfn >= 0 && pfn < mem.layout.config.ramFrames;
}

/** True for a frame of the memory device. */
export function pfnIsDevice(mem: Memory, pfn: Pfn): boolean {
  const c = mem.layout.config;
  return Number.isInteger(pfn) && pfn >= c.ramFrames && pfn < c.ramFrames + c.deviceFrames;
}

/**
 * Whether `pfn` has a struct page (Linux's pfn_valid): every RAM frame, and
 * device frames only with a device memmap. Anything else (negative, past the
 * device, not an integer) is false.
 */
export function pfnValid(mem: Memory, pfn: Pfn): boolean {
  return pfnIsRam(mem, pfn) || (mem.layout.config.deviceMemmap && pfnIsDevice(mem, pfn));
}

/**
 * Index of `pfn`'s struct page in the memmap. RAM frames come first and the
 * device's follow, so the index is the pfn itself; callers must not rely on
 * that.
 *
 * @throws KernelPanic when `pfn` has no struct page
 */
export function memmapIndex(mem: Memory, pfn: Pfn): number {
  if (!pfnValid(mem, pfn)) throw new KernelPanic("memmapIndex", `pfn ${pfn} has no struct page`);
  return pfn;
}

/**
 * Word index of `pfn`'s struct page record.
 *
 * @throws KernelPanic when `pfn` has no struct page
 */
export function pageBase(mem: Memory, pfn: Pfn): number {
  return mem.layout.memmap.base + memmapIndex(mem, pfn) * PAGE_WORDS;
}

/**
 * Word index of a RAM frame's struct page, without the pfnValid check: for
 * the frame allocator, which only ever holds RAM pfns it has checked.
 */
export function ramPageBase(mem: Memory, pfn: Pfn): number {
  return mem.layout.memmap.base + pfn * PAGE_WORDS;
}

/** Word index of `pfn`'s flags word, for bitLock(k32, word, PG_locked, LockClass.PAGE_LOCK). */
export function pageFlagsWord(mem: Memory, pfn: Pfn): number {
  return pageBase(mem, pfn) + PAGE.flags;
}

/**
 * The pfn whose flags word is `w` (the inverse of pageFlagsWord: a bit
 * lock recorded on a page's flags names that word).
 *
 * @throws KernelPanic when `w` is not a flags word of the memmap
 */
export function pfnOfFlagsWord(mem: Memory, w: number): Pfn {
  const rel = w - mem.layout.memmap.base - PAGE.flags;
  const pfn = rel / PAGE_WORDS;
  if (!Number.isInteger(pfn) || !pfnValid(mem, asPfn(pfn))) {
    throw new KernelPanic("pfnOfFlagsWord", `word ${w} is not a page's flags word`);
  }
  return asPfn(pfn);
}

/** The whole flags word. */
export function pageFlags(mem: Memory, pfn: Pfn): number {
  return Atomics.load(mem.k32, pageBase(mem, pfn) + PAGE.flags);
}

/** Whether flag bit `bit` (a PG_* number) is set. */
export function testPageFlag(mem: Memory, pfn: Pfn, bit: number): boolean {
  return (Atomics.load(mem.k32, pageBase(mem, pfn) + PAGE.flags) & (1 << bit)) !== 0;
}

/**
 * Set flag bit `bit` atomically. Not for PG_locked: take it with src/sync's
 * bitLock, which records the holder.
 *
 * @returns whether the bit was already set (Linux's TestSetPageX)
 */
export function setPageFlag(mem: Memory, pfn: Pfn, bit: number): boolean {
  return (Atomics.or(mem.k32, pageBase(mem, pfn) + PAGE.flags, 1 << bit) & (1 << bit)) !== 0;
}

/**
 * Clear flag bit `bit` atomically.
 *
 * @returns whether the bit was set before (Linux's TestClearPageX)
 */
export function clearPageFlag(mem: Memory, pfn: Pfn, bit: number): boolean {
  return (Atomics.and(mem.k32, pageBase(mem, pfn) + PAGE.flags, ~(1 << bit)) & (1 << bit)) !== 0;
}

/** Current reference count. */
export function pageRefcount(mem: Memory, pfn: Pfn): number {
  return Atomics.load(mem.k32, pageBase(mem, pfn) + PAGE.refcount);
}

/**
 * Take a reference. The caller must already hold one, or hold a lock that
 * keeps the frame from being freed (page-table lock over a PTE that maps it).
 * Device frames (device memmap) idle at 0 and may be taken from 0.
 *
 * @returns the new count
 * @throws KernelPanic on a free RAM frame (use after free)
 */
export function getPage(mem: Memory, pfn: Pfn): number {
  const old = Atomics.add(mem.k32, pageBase(mem, pfn) + PAGE.refcount, 1);
  if (old <= 0 && pfnIsRam(mem, pfn)) {
    Atomics.sub(mem.k32, pageBase(mem, pfn) + PAGE.refcount, 1);
    throw new KernelPanic("getPage", `pfn ${pfn} is free (refcount ${old})`);
  }
  return old + 1;
}

/**
 * Take a reference unless the count is 0 (Linux's get_page_unless_zero), for
 * lookups that found the frame without holding a reference to it.
 *
 * @returns true when a reference was taken
 */
export function getPageUnlessZero(mem: Memory, pfn: Pfn): boolean {
  const w = pageBase(mem, pfn) + PAGE.refcount;
  for (let c = Atomics.load(mem.k32, w); c > 0;) {
    const seen = Atomics.compareExchange(mem.k32, w, c, c + 1);
    if (seen === c) return true;
    c = seen;
  }
  return false;
}

/**
 * Drop a reference. When the last reference to a RAM frame goes, the frame
 * returns to the frame allocator (which clears its struct page); the caller
 * must not touch it afterwards. Device frames just go back to 0.
 *
 * @returns the new count
 * @throws KernelPanic when the count would go below 0
 */
export function putPage(mem: Memory, pfn: Pfn): number {
  const w = pageBase(mem, pfn) + PAGE.refcount;
  const old = Atomics.sub(mem.k32, w, 1);
  if (old <= 0) {
    Atomics.add(mem.k32, w, 1);
    throw new KernelPanic("putPage", `refcount underflow on pfn ${pfn}`);
  }
  if (old === 1 && pfnIsRam(mem, pfn)) freeFrame(mem, pfn);
  return old - 1;
}

/** PTEs currently mapping the frame. */
export function pageMapcount(mem: Memory, pfn: Pfn): number {
  return Atomics.load(mem.k32, pageBase(mem, pfn) + PAGE.mapcount);
}

/**
 * Add `delta` (usually +1 or -1) to the mapcount. Called under the
 * page-table lock of the PTE being set or cleared.
 *
 * @returns the new mapcount
 * @throws KernelPanic when it would go below 0
 */
export function pageAddMapcount(mem: Memory, pfn: Pfn, delta: number): number {
  const w = pageBase(mem, pfn) + PAGE.mapcount;
  const now = Atomics.add(mem.k32, w, delta) + delta;
  if (now < 0) {
    Atomics.sub(mem.k32, w, delta);
    throw new KernelPanic("pageAddMapcount", `mapcount underflow on pfn ${pfn}`);
  }
  return now;
}

/** Owning inode number of a page-cache page; 0 for none. */
export function pageMapping(mem: Memory, pfn: Pfn): number {
  return Atomics.load(mem.k32, pageBase(mem, pfn) + PAGE.mapping);
}

/** Set the owning inode number. The caller holds the page lock. */
export function setPageMapping(mem: Memory, pfn: Pfn, ino: number): void {
  Atomics.store(mem.k32, pageBase(mem, pfn) + PAGE.mapping, ino);
}

/** Page offset within the owning file. */
export function pageIndex(mem: Memory, pfn: Pfn): number {
  return Atomics.load(mem.k32, pageBase(mem, pfn) + PAGE.index);
}

/** Set the page offset within the owning file. The caller holds the page lock. */
export function setPageIndex(mem: Memory, pfn: Pfn, index: number): void {
  Atomics.store(mem.k32, pageBase(mem, pfn) + PAGE.index, index);
}

/** The owner's private word (Linux page->private). */
export function pagePrivate(mem: Memory, pfn: Pfn): number {
  return Atomics.load(mem.k32, pageBase(mem, pfn) + PAGE.private);
}

/** Set the owner's private word. The caller owns the frame or holds its page lock. */
export function setPagePrivate(mem: Memory, pfn: Pfn, value: number): void {
  Atomics.store(mem.k32, pageBase(mem, pfn) + PAGE.private, value);
}
