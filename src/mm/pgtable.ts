/**
 * Sv32 page tables: two levels of 1024 four-byte PTEs, each level one RAM
 * frame, as the hart walks them (src/abi/sv32.ts has the PTE format).
 *
 * ```
 *  root (mm.root) ──VPN[1]──▶ level-0 table ──VPN[0]──▶ leaf PTE ──▶ frame
 * ```
 *
 * Page tables live in physical memory, so a PTE is addressed by its word
 * index in an Int32Array over the physical buffer (`physWords`): entry i of
 * the table in frame p is word `p * 1024 + i`.
 *
 * Every PTE access is atomic because the hart of another Worker may walk the
 * same table at the same time and set A and D with compareExchange. So a
 * present leaf is never overwritten with a plain store: it is cleared with
 * Atomics.exchange (the returned old value carries the latest D bit) or
 * changed with a compareExchange loop (`pteModify`). Writes that install a
 * leaf or table over an empty entry may race only with the kernel, and use
 * compareExchange so that the loser sees who won.
 *
 * RSW bit 9 (the one pte_special leaves free) marks a PROT_NONE leaf: V is
 * clear, so the hart faults, but the frame is still mapped and counted.
 * Linux riscv uses a similar trick (_PAGE_PROT_NONE).
 *
 * A leaf in the root table is a 4 MiB megapage (Sv32's superpage, Linux's
 * huge PMD): it maps 1024 consecutive frames from a 1024-aligned pfn. Only
 * DAX maps them (src/mm/huge_memory.ts), always with pte_special (the
 * frames are not refcounted for it, as Linux's pmd_devmap); every walk
 * below either handles one or reports it (WALK_HUGE), and
 * splitHugePmdLocked turns one into a level-0 table of 1024 PTEs.
 *
 * Locks: walks that only read need none (the caller keeps the VMA alive);
 * leaf changes are made under mm.page_table_lock; table pages are freed only
 * under mmap_lock held for writing, and only after a TLB shootdown.
 *
 * @module
 */

import { ENOMEM, type Errno, isErr } from "../abi/errno.ts";
import { MM, mmBase, MMG } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import {
  pfnToPte,
  PTE_A,
  PTE_D,
  PTE_FLAGS_MASK,
  PTE_R,
  PTE_SPECIAL,
  PTE_V,
  PTE_W,
  PTE_X,
  pteIsLeaf,
  pteIsTable,
  PTES_PER_TABLE,
  pteToPfn,
  px,
} from "../abi/sv32.ts";
import {
  asPfn,
  asPte,
  asVirt,
  type MmId,
  PAGE_SHIFT,
  PAGE_SIZE,
  type Pfn,
  type Pte,
  type VirtAddr,
} from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { allocFrame, freeFrame } from "./frame_alloc.ts";
import {
  clearPageFlag,
  getPage,
  pageAddMapcount,
  pfnValid,
  PG_pagetable,
  setPageFlag,
} from "./memmap.ts";
import { noteDeviceMapped } from "./devmap.ts";
import { VM_EXEC, VM_READ, VM_WRITE } from "./vma.ts";

/** RSW bit 9: a PROT_NONE leaf (V clear, frame still mapped). */
export const PTE_PROTNONE = 1 << 9;
/** Bytes one level-0 table maps (4 MiB). */
export const PGDIR_SIZE = PAGE_SIZE * PTES_PER_TABLE;

/** True when a PTE maps a frame: a valid leaf or a PROT_NONE leaf. */
export const ptePresent = (pte: Pte): boolean => pteIsLeaf(pte) || (pte & PTE_PROTNONE) !== 0;
/** Frames one megapage maps. */
export const HPAGE_PMD_NR = PTES_PER_TABLE;
/** walk()'s answer when the root entry for the address is a megapage leaf. */
export const WALK_HUGE = -3;
/** True for a root entry that is a megapage: a (possibly PROT_NONE) leaf, not a table. */
export const pmdIsHuge = (pmd: Pte): boolean => ptePresent(pmd);
// Sv32's index arithmetic, in one place. The root table is Linux's PMD level
// (PGD, P4D, PUD and PMD folded into one); a root entry is a table, a
// megapage leaf, or empty.

/** The root-table word (in physWords) for `va` under root table `root` (Linux's pmd_offset). */
export const pmdOffset = (root: number, va: number): number =>
  root * PTES_PER_TABLE + px(1, asVirt(va));
/** The level-0 word for `va` in the table that root entry `pmd` names (Linux's pte_offset). */
export const pteOffset = (pmd: Pte, va: number): number =>
  pteToPfn(pmd) * PTES_PER_TABLE + px(0, asVirt(va));
/** The end of the 4 MiB range holding `va`, or `end` if sooner (Linux's pmd_addr_end). */
export const pmdAddrEnd = (va: number, end: number): number =>
  Math.min(end, Math.floor(va / PGDIR_SIZE) * PGDIR_SIZE + PGDIR_SIZE);
/** The root-table word (in physWords) that maps `va` in mm `mm`. */
export const pmdWord = (mem: Memory, mm: MmId, va: VirtAddr): number =>
  pmdOffset(mmRoot(mem, mm), va);
/** The frame a megapage leaf `pmd` maps at `va` (inside its 4 MiB). */
export const hugePfnAt = (pmd: Pte, va: number): Pfn =>
  asPfn(pteToPfn(pmd) + ((va >>> PAGE_SHIFT) & (PTES_PER_TABLE - 1)));

const physWordsCache = new WeakMap<SharedArrayBuffer, Int32Array>();

/** This thread's Int32Array over physical memory (PTEs live there). */
export function physWords(mem: Memory): Int32Array {
  let p = physWordsCache.get(mem.phys);
  if (p === undefined) {
    p = new Int32Array(mem.phys);
    physWordsCache.set(mem.phys, p);
  }
  return p;
}

/** Root page-table frame of mm slot `mm`. */
export const mmRoot = (mem: Memory, mm: MmId): Pfn =>
  asPfn(Atomics.load(mem.k32, mmBase(mem.layout, mm) + MM.root));

/** Atomic read of the PTE at word `w`. */
export const pteLoad = (p32: Int32Array, w: number): Pte => asPte(Atomics.load(p32, w));

/** Set an empty PTE; false (and nothing written) when it was not `expect`. */
export function pteCas(p32: Int32Array, w: number, expect: Pte, val: Pte): boolean {
  return Atomics.compareExchange(p32, w, expect | 0, val | 0) === (expect | 0);
}

/** Clear a PTE, returning the old value with the hart's latest A/D bits. */
export const pteClear = (p32: Int32Array, w: number): Pte => asPte(Atomics.exchange(p32, w, 0));

/**
 * Clear bits `clear`, then set bits `set`, without losing an A/D update the
 * hart makes meanwhile.
 *
 * @returns the old PTE
 */
export function pteModify(p32: Int32Array, w: number, clear: number, set: number): Pte {
  for (let old = Atomics.load(p32, w);;) {
    const seen = Atomics.compareExchange(p32, w, old, (old & ~clear) | set);
    if (seen === old) return asPte(old);
    old = seen;
  }
}

/**
 * Allocate a page-table page (zeroed unless the caller fills all of it)
 * and charge it to mm `mm`.
 *
 * @returns the pfn, or -ENOMEM
 */
function allocTable(mem: Memory, mm: MmId, zero = true): Pfn | Errno {
  const pfn = allocFrame(mem, { zero });
  if (isErr(pfn)) return pfn;
  setPageFlag(mem, pfn, PG_pagetable);
  Atomics.add(mem.k32, mmBase(mem.layout, mm) + MM.ptFrames, 1);
  Atomics.add(mem.k32, mem.layout.mmg.base + MMG.pagetableFrames, 1);
  return pfn;
}

/** Return a page-table page that nothing can reach any more. */
export function freeTable(mem: Memory, mm: MmId, pfn: Pfn): void {
  clearPageFlag(mem, pfn, PG_pagetable);
  freeFrame(mem, pfn);
  Atomics.sub(mem.k32, mmBase(mem.layout, mm) + MM.ptFrames, 1);
  Atomics.sub(mem.k32, mem.layout.mmg.base + MMG.pagetableFrames, 1);
}

/**
 * Return the word index (in physWords) of the leaf PTE for `va` in mm `mm`.
 * If `alloc`, create the level-0 table when it is missing; two threads that
 * race to create it agree through compareExchange and the loser frees its
 * frame. Entry: the caller keeps the mm alive (mmap_lock, or a reference).
 *
 * @returns the PTE's word index, -1 when there is no table and `!alloc`,
 *   WALK_HUGE when a megapage maps `va` (the caller handles it or splits
 *   it first: Linux's pmd_trans_huge check), or -ENOMEM when a table page
 *   cannot be allocated
 */
export function walk(mem: Memory, mm: MmId, va: VirtAddr, alloc: boolean): number {
  return walkRoot(mem, mmRoot(mem, mm), va, alloc ? mm : 0);
}

/**
 * walk() from an explicit root. `allocFor` is the mm to charge a new table
 * to, or 0 for a lookup only (the form the hart and gup-fast use).
 */
export function walkRoot(mem: Memory, root: Pfn, va: VirtAddr, allocFor: MmId | 0): number {
  const p32 = physWords(mem);
  const w1 = pmdOffset(root, va);
  let pde = pteLoad(p32, w1);
  if (pde === 0) {
    if (allocFor === 0) return -1;
    const t = allocTable(mem, allocFor);
    if (isErr(t)) return -ENOMEM;
    const mine = pfnToPte(t, PTE_V);
    if (!pteCas(p32, w1, asPte(0), mine)) freeTable(mem, allocFor, t);
    pde = pteLoad(p32, w1);
  }
  if (!pteIsTable(pde)) {
    if (pmdIsHuge(pde)) return WALK_HUGE;
    throw new KernelPanic("walk", `root entry for 0x${va.toString(16)} is 0x${pde.toString(16)}`);
  }
  return pteOffset(pde, va);
}

/**
 * Split the megapage at root word `w1` of mm `mm` into a level-0 table of
 * 1024 PTEs naming the same frames with the same bits (Linux's
 * __split_huge_pmd_locked, done for real rather than zapping: no process
 * loses its mapping). A frame with a struct page (a device memmap) becomes
 * a counted PTE, as every such DAX PTE is (accountMap); without one, the
 * PTEs stay pte_special. The translations do not change, so no TLB flush
 * is needed; A and D bits the hart set on the megapage meanwhile are
 * carried over. Entry: page_table_lock of `mm` held; the caller keeps the
 * VMA (mmap_lock or i_mmap lock).
 *
 * @returns true when split or when `w1` holds no megapage any more; false
 *   when no frame was free for the table (the megapage is left alone: the
 *   caller zaps it whole instead, which DAX can always refault)
 */
export function splitHugePmdLocked(mem: Memory, mm: MmId, w1: number): boolean {
  const p32 = physWords(mem);
  const pmd = pteLoad(p32, w1);
  if (!pmdIsHuge(pmd)) return true;
  const t = allocTable(mem, mm, false); // every word is stored below
  if (isErr(t)) return false;
  const first = pteToPfn(pmd);
  const flags = pmd & PTE_FLAGS_MASK;
  const counted = pfnValid(mem, first);
  const base = t * PTES_PER_TABLE;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = asPfn(first + i);
    const pte = pfnToPte(pfn, counted ? flags & ~PTE_SPECIAL : flags);
    Atomics.store(p32, base + i, pte | 0);
    if (counted) {
      // mm.ts's accountMap for a file frame (device frames are never anonymous).
      getPage(mem, pfn);
      pageAddMapcount(mem, pfn, 1);
      Atomics.add(mem.k32, mmBase(mem.layout, mm) + MM.rssFile, 1);
    }
  }
  // Publish the table; the hart may have set A or D on the megapage since we read it.
  const old = asPte(Atomics.exchange(p32, w1, pfnToPte(t, PTE_V) | 0));
  const ad = old & (PTE_A | PTE_D) & ~pmd;
  if (ad !== 0) { for (let i = 0; i < HPAGE_PMD_NR; i++) pteModify(p32, base + i, 0, ad); }
  return true;
}

/**
 * Map `npages` pages starting at `va` to consecutive frames from `pfn`, with
 * PTE bits `flags` (V is added). Entry: page_table_lock held or the range
 * private to the caller. The entries must be empty.
 *
 * @returns 0, or -ENOMEM (entries already set stay set)
 * @throws KernelPanic("mapPages", "remap") when an entry is already in use
 */
export function mapPages(
  mem: Memory,
  mm: MmId,
  va: VirtAddr,
  npages: number,
  pfn: Pfn,
  flags: number,
): number {
  const p32 = physWords(mem);
  for (let i = 0; i < npages; i++) {
    const w = walk(mem, mm, asVirt(va + i * PAGE_SIZE), true);
    if (w < 0) return w;
    if (!pteCas(p32, w, asPte(0), pfnToPte(asPfn(pfn + i), flags | PTE_V))) {
      throw new KernelPanic("mapPages", `remap at 0x${(va + i * PAGE_SIZE).toString(16)}`);
    }
    noteDeviceMapped(mem, asPfn(pfn + i));
  }
  return 0;
}

/** Old PTEs and table pages collected by unmapping, released after the TLB flush. */
export interface MmuGather {
  /** Cleared leaf PTEs that mapped a frame. */
  ptes: Pte[];
  /** Page-table pages unlinked from the root. */
  tables: Pfn[];
}

/** An empty gather. */
export const newGather = (): MmuGather => ({ ptes: [], tables: [] });

/**
 * Clear every leaf PTE in [start, end) that `keep` (if given) does not
 * keep, and append the old values (present leaves only) to `g.ptes`
 * (Linux's zap_pmd_range and zap_pte_range). A megapage the range covers
 * whole is zapped as one entry (zap_huge_pmd); one it covers in part is
 * split first (split_huge_pmd), or zapped whole if no frame is free for
 * the table, which DAX can always refault. `keep` sees only 4 KiB PTEs.
 * Entry: page_table_lock held; the caller holds mmap_lock or the i_mmap
 * lock so the range's VMAs stay. The frames must not be released before
 * the TLB shootdown (tlbFinishMmu).
 *
 * @returns the number of PTEs cleared
 */
export function unmapRange(
  mem: Memory,
  mm: MmId,
  start: VirtAddr,
  end: VirtAddr,
  g: MmuGather,
  keep?: (pte: Pte) => boolean,
): number {
  const p32 = physWords(mem);
  const root = mmRoot(mem, mm);
  let n = 0;
  for (let va: number = start, next: number; va < end; va = next) {
    next = pmdAddrEnd(va, end);
    const w1 = pmdOffset(root, va);
    let pde = pteLoad(p32, w1);
    if (pmdIsHuge(pde)) {
      if ((va % PGDIR_SIZE === 0 && next - va === PGDIR_SIZE) || !splitHugePmdLocked(mem, mm, w1)) {
        g.ptes.push(pteClear(p32, w1));
        n++;
        continue;
      }
      pde = pteLoad(p32, w1);
    }
    if (!pteIsTable(pde)) continue;
    for (let v = va; v < next; v += PAGE_SIZE) {
      const w = pteOffset(pde, v);
      const pte = pteLoad(p32, w);
      if (pte === 0 || (keep !== undefined && ptePresent(pte) && keep(pte))) continue;
      const old = pteClear(p32, w); // with the A and D bits the hart set meanwhile
      if (ptePresent(old)) {
        g.ptes.push(old);
        n++;
      }
    }
  }
  return n;
}

/**
 * Unlink the level-0 tables that cover only [start, end) rounded out to
 * 4 MiB and hold no PTE any more, appending them to `g.tables`. Entry:
 * mmap_lock held for writing (no fault can be filling them), and
 * page_table_lock held (an rmap zap walks under it without mmap_lock). `floor`/`ceil` bound the span that may be
 * freed: nothing below floor or at or above ceil is still mapped by a VMA.
 */
export function freePgtables(
  mem: Memory,
  mm: MmId,
  start: VirtAddr,
  end: VirtAddr,
  g: MmuGather,
): void {
  const p32 = physWords(mem);
  const root = mmRoot(mem, mm);
  const first = px(1, start);
  const last = px(1, asVirt(end - 1));
  for (let i = first; i <= last; i++) {
    const w1 = root * PTES_PER_TABLE + i;
    const pde = pteLoad(p32, w1);
    if (!pteIsTable(pde)) continue;
    const base = pteToPfn(pde) * PTES_PER_TABLE;
    let empty = true;
    for (let j = 0; j < PTES_PER_TABLE && empty; j++) empty = Atomics.load(p32, base + j) === 0;
    if (!empty) continue;
    pteClear(p32, w1);
    g.tables.push(pteToPfn(pde));
  }
}

/**
 * Leaf permission bits for a VMA's VM_* flags. riscv has no write-only page
 * (W without R is reserved), so VM_WRITE implies R, as Linux's riscv
 * protection_map does; W itself is set only when `writable` (faults decide
 * it, for COW and page_mkwrite).
 */
export function vmPteBits(vmFlags: number, writable: boolean): number {
  let bits = 0;
  if ((vmFlags & (VM_READ | VM_WRITE)) !== 0) bits |= PTE_R;
  if (writable) bits |= PTE_W | PTE_R;
  if ((vmFlags & VM_EXEC) !== 0) bits |= PTE_X;
  return bits;
}
