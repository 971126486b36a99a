/**
 * The reverse map of file pages (Linux's mm/rmap.c and unmap_mapping_range,
 * reduced): which VMAs of which processes map an inode, and how to take a
 * range of the file out of all of them at once.
 *
 * Every file VMA sits on its inode's i_mmap list (vma.ts immapInsert); the
 * list head and its lock are words of the inode's slot in the inode cache
 * (layout/mod.ts ISLOT.iMmap, ISLOT.iMmapLock), so any Worker can reach them
 * from the inode slot alone. The mm layer never needs the file system's
 * objects for this, only the slot number that VMA.file records.
 *
 * unmapMappingRange is what makes truncate safe: it clears the PTEs of the
 * range in every mapping process, shoots down every hart's TLB for those
 * mms (docs/ARCHITECTURE.md §5), and only then drops the references the PTEs held. So
 * when it returns, no process can reach the old frames, and the file
 * system may free the blocks behind them.
 *
 * Lock order (lockdep.ts): i_mmap lock, then each mm's page_table_lock in
 * turn (never two at once). The caller may hold i_rwsem, invalidate_lock,
 * a DAX entry or page lock, and mmap_lock of any one mm (for reading).
 *
 * @module
 */

import { ICACHE, ISLOT, ISLOT_WORDS } from "../abi/layout/mod.ts";
import { pteIsSpecial, pteToPfn } from "../abi/sv32.ts";
import {
  asVirt,
  type InodeSlot,
  type MmId,
  PAGE_SHIFT,
  PAGE_SIZE,
  type Pte,
  type VmaId,
} from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { pfnValid, PG_anon, testPageFlag } from "./memmap.ts";
import { type MmuGather, newGather, unmapRange } from "./pgtable.ts";
import { ptlLock, ptlUnlock, tlbFinishMmu } from "./mm.ts";
import { LockClass, mutexLock, mutexUnlock, withNoKill } from "./_sync.ts";
import {
  immapInsert,
  immapInsertAfter,
  immapList,
  immapRemove,
  VM_SHARED,
  vmaEnd,
  vmaFile,
  vmaFlags,
  vmaMm,
  vmaPgoff,
  vmaStart,
} from "./vma.ts";

/** Word index of inode-cache slot `slot`'s field `field`. */
const islotWord = (mem: Memory, slot: InodeSlot, field: number): number =>
  mem.layout.icache.base + ICACHE.slots + slot * ISLOT_WORDS + field;

/** Word index of the i_mmap list head of the inode in slot `slot`. */
export const immapHeadWord = (mem: Memory, slot: InodeSlot): number =>
  islotWord(mem, slot, ISLOT.iMmap);

/**
 * Take the i_mmap lock of the inode in slot `slot` (Linux's
 * i_mmap_lock_write; LockClass.I_MMAP). Entry: nothing ranked inside I_MMAP
 * held (no page-table, inode-cache or page-cache lock); returns with the
 * i_mmap lock held.
 */
export function immapLock(mem: Memory, slot: InodeSlot): void {
  mutexLock(mem.k32, islotWord(mem, slot, ISLOT.iMmapLock), LockClass.I_MMAP);
}

/** Release the i_mmap lock of the inode in slot `slot`. */
export function immapUnlock(mem: Memory, slot: InodeSlot): void {
  mutexUnlock(mem.k32, islotWord(mem, slot, ISLOT.iMmapLock));
}

/**
 * Put file VMA `v` on its inode's i_mmap (the common half of a file
 * system's VmOperations.open): at the front, or right after `after` (fork,
 * see immapInsertAfter). Entry: mmap_lock of v's mm held for writing;
 * takes the i_mmap lock.
 */
export function rmapAddVma(mem: Memory, v: VmaId, after: VmaId | 0 = 0): void {
  const slot = vmaFile(mem, v);
  immapLock(mem, slot);
  if (after !== 0) immapInsertAfter(mem, immapHeadWord(mem, slot), after, v);
  else immapInsert(mem, immapHeadWord(mem, slot), v);
  immapUnlock(mem, slot);
}

/**
 * Take file VMA `v` off its inode's i_mmap (VmOperations.close). Entry:
 * mmap_lock of v's mm held for writing (munmap), or the mm is dead
 * (exitMmap); no i_mmap or page-table lock held. Takes and drops the i_mmap
 * lock.
 */
export function rmapRemoveVma(mem: Memory, v: VmaId): void {
  const slot = vmaFile(mem, v);
  immapLock(mem, slot);
  immapRemove(mem, immapHeadWord(mem, slot), v);
  immapUnlock(mem, slot);
}

/**
 * VmOperations.lockRmap for any file VMA: immapLock of its inode. Entry: as
 * immapLock; returns with the i_mmap lock held.
 */
export const rmapLockVma = (mem: Memory, v: VmaId): void => immapLock(mem, vmaFile(mem, v));
export const rmapUnlockVma = (mem: Memory, v: VmaId): void => immapUnlock(mem, vmaFile(mem, v));

/**
 * unmapRange's `keep` for a private VMA when COW copies stay (Linux's
 * even_cows == 0): a PTE that maps an anonymous page maps this process's
 * own copy, no longer the file's page.
 */
function anonCopy(mem: Memory): (pte: Pte) => boolean {
  return (pte) => {
    if (pteIsSpecial(pte)) return false;
    const pfn = pteToPfn(pte);
    return pfnValid(mem, pfn) && testPageFlag(mem, pfn, PG_anon);
  };
}

/**
 * Unmap file pages [startPgoff, startPgoff + nrPages) of the inode in slot
 * `slot` from every process that maps them (Linux's unmap_mapping_range);
 * nrPages 0 means "to the end of the file". `evenCows` also unmaps the
 * private COW copies of those pages (truncate and punch-hole want that:
 * the file range is gone); without it, private mappings keep their own
 * copies (a hole being filled: the copies are not the file's pages).
 *
 * For each VMA on i_mmap that overlaps the range, its PTEs are cleared
 * under its mm's page_table_lock; then every affected mm's TLB is shot
 * down; then the references the PTEs held (mapcount, refcount of pfnValid
 * frames; special PTEs hold none) are dropped. All of it under the i_mmap
 * lock, so a VMA cannot leave i_mmap and its mm cannot be freed meanwhile.
 *
 * Entry: no i_mmap or page-table lock held; the caller may hold i_rwsem,
 * invalidate_lock, a DAX entry or page lock, and one mm's mmap_lock for
 * reading. Exit: the same. On return no hart can reach a frame the range
 * mapped through any old translation.
 *
 * @returns the number of PTEs cleared
 */
export function unmapMappingRange(
  mem: Memory,
  slot: InodeSlot,
  startPgoff: number,
  nrPages: number,
  evenCows = false,
): number {
  const endPgoff = nrPages === 0 ? Infinity : startPgoff + nrPages;
  immapLock(mem, slot);
  try {
    // From the first PTE cleared to the last reference released, the
    // zapped PTEs' references are only in `zapped`: no kill point.
    return withNoKill(() => zapMappingLocked(mem, slot, startPgoff, endPgoff, evenCows));
  } finally {
    immapUnlock(mem, slot);
  }
}

/** unmapMappingRange's work under the i_mmap lock. @returns the PTEs cleared */
function zapMappingLocked(
  mem: Memory,
  slot: InodeSlot,
  startPgoff: number,
  endPgoff: number,
  evenCows: boolean,
): number {
  const gathers = new Map<MmId, MmuGather>();
  let n = 0;
  for (const v of immapList(mem, immapHeadWord(mem, slot))) {
    const vs = vmaStart(mem, v);
    const vpg = vmaPgoff(mem, v);
    const vpages = (vmaEnd(mem, v) - vs) >>> PAGE_SHIFT;
    const first = Math.max(startPgoff, vpg);
    const last = Math.min(endPgoff, vpg + vpages);
    if (first >= last) continue;
    const mm = vmaMm(mem, v);
    let g = gathers.get(mm);
    if (g === undefined) gathers.set(mm, g = newGather());
    const keep = !evenCows && (vmaFlags(mem, v) & VM_SHARED) === 0 ? anonCopy(mem) : undefined;
    ptlLock(mem, mm);
    const from = asVirt(vs + (first - vpg) * PAGE_SIZE);
    n += unmapRange(mem, mm, from, asVirt(vs + (last - vpg) * PAGE_SIZE), g, keep);
    ptlUnlock(mem, mm);
  }
  for (const [mm, g] of gathers) tlbFinishMmu(mem, mm, g);
  return n;
}
