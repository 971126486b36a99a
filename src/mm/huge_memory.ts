/**
 * Megapages: Sv32 4 MiB leaves in the root table, the huge PMDs of this
 * machine, for DAX mappings only (Linux's mm/huge_memory.c, the part fs/dax
 * uses: create_huge_pmd / wp_huge_pmd in __handle_mm_fault,
 * vmf_insert_pfn_pmd, split_huge_pmd, thp_get_unmapped_area).
 *
 * ```
 * handleMmFaultLocked ── handleHugePmd (before any PTE walk)
 *   ├ root entry empty, the VMA can take a megapage here ── ops.hugeFault
 *   │     (dax_pmd.ts: NOPAGE with the megapage in place, or FALLBACK)
 *   ├ megapage present, write to it read-only
 *   │     shared: ops.hugeFault makes it writable (dax_iomap_pmd_fault's mkwrite)
 *   │     private: split it (COW works page by page), FALLBACK
 *   ├ megapage present otherwise: spurious, mark it young (and dirty)
 *   └ a level-0 table: FALLBACK to the 4 KiB path
 * ```
 *
 * A megapage always lies inside one VMA that covers all of its 4 MiB at a
 * file offset that is a multiple of 4 MiB, and maps 1024 consecutive device
 * frames from a 1024-aligned pfn (the hart page-faults on a misaligned
 * superpage, as the privileged spec requires, so the kernel never makes
 * one). It is pte_special: it holds no reference and no mapcount on the
 * frames, as Linux's pmd_devmap mappings did before 6.15's folio
 * refcounting; splitting it into PTEs takes them, with a device memmap.
 * Whatever changes part of a megapage splits it first (munmap, mprotect,
 * truncate and punch-hole through the rmap, COW, get_user_pages, memory
 * failure, and fork once it exists: splitHugePmd); whatever changes all
 * of it zaps or rewrites the one root entry.
 *
 * Locks: mmap_lock (read in faults), page_table_lock around every change
 * of a root entry, as for PTEs.
 *
 * @module
 */

import { KernelPanic } from "../abi/panic.ts";
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
  pteToPfn,
} from "../abi/sv32.ts";
import {
  asPfn,
  asVirt,
  type MmId,
  PAGE_SHIFT,
  type Pfn,
  type Pte,
  type VirtAddr,
  type VmaId,
} from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { noteDeviceMapped } from "./devmap.ts";
import { VM_FAULT_NOPAGE } from "./fault.ts";
import { ptlLock, ptlUnlock } from "./mm.ts";
import {
  HPAGE_PMD_NR,
  PGDIR_SIZE,
  physWords,
  pmdIsHuge,
  pmdWord,
  PTE_PROTNONE,
  pteClear,
  pteLoad,
  pteModify,
  splitHugePmdLocked,
  vmPteBits,
} from "./pgtable.ts";
import { flushTlbMm } from "./tlb_flush.ts";
import {
  FAULT_FLAG_WRITE,
  VM_MIXEDMAP,
  VM_SHARED,
  VM_WRITE,
  vmaEnd,
  vmaFlags,
  vmaIsAnon,
  vmaOpsId,
  vmaPgoffOf,
  vmaStart,
  type VmFault,
  vmOps,
} from "./vma.ts";

/** Linux's VM_FAULT_FALLBACK: no megapage here, use 4 KiB PTEs. */
export const VM_FAULT_FALLBACK = 0x800;
/** Bytes a megapage maps (Linux's HPAGE_PMD_SIZE). */
export const HPAGE_PMD_SIZE = PGDIR_SIZE;

/** The megapage-aligned address at or below `va`. */
export const hugeAlign = (va: number): VirtAddr => asVirt(va - (va % HPAGE_PMD_SIZE));

/** A and D may change under us (the hart sets them); pmd_same ignores them. */
const pmdSame = (a: Pte, b: Pte): boolean => ((a ^ b) & ~(PTE_A | PTE_D)) === 0;

/**
 * Whether a fault at `va` of VMA `vma` may be served by a megapage (Linux's
 * thp_vma_suitable_order plus dax_iomap_pmd_fault's VMA checks): the file
 * offers hugeFault, the aligned 4 MiB lies inside the VMA at a file offset
 * that is a multiple of 4 MiB, and it is not a write to a private mapping
 * (COW works page by page). Entry: mmap_lock held.
 */
export function hugeFaultSuitable(mem: Memory, vma: VmaId, va: number, access: Access): boolean {
  if (vmaIsAnon(mem, vma)) return false;
  const ops = vmOps(vmaOpsId(mem, vma));
  if (ops?.hugeFault === undefined) return false;
  const haddr = hugeAlign(va);
  if (haddr < vmaStart(mem, vma) || haddr + HPAGE_PMD_SIZE > vmaEnd(mem, vma)) return false;
  if (vmaPgoffOf(mem, vma, haddr) % HPAGE_PMD_NR !== 0) return false;
  return access !== ACCESS_WRITE || (vmaFlags(mem, vma) & VM_SHARED) !== 0;
}

/** The VmFault a hugeFault callback is given: the aligned address and the root entry. */
function hugeVmf(mem: Memory, mm: MmId, vma: VmaId, va: number, access: Access): VmFault {
  const haddr = hugeAlign(va);
  const w1 = pmdWord(mem, mm, haddr);
  return {
    mem,
    mm,
    vma,
    address: haddr,
    pgoff: vmaPgoffOf(mem, vma, haddr),
    access,
    flags: access === ACCESS_WRITE ? FAULT_FLAG_WRITE : 0,
    ptw: w1,
    origPte: pteLoad(physWords(mem), w1),
    cowPage: 0,
    page: -1,
  };
}

/**
 * The megapage step of a fault (see the module comment). Entry: mmap_lock
 * held for reading, access already checked against the VMA.
 *
 * @returns VM_FAULT_FALLBACK to go on with the 4 KiB path; 0 or
 *   VM_FAULT_NOPAGE when the access can be retried; VM_FAULT_* error bits
 */
export function handleHugePmd(
  mem: Memory,
  mm: MmId,
  vma: VmaId,
  va: VirtAddr,
  access: Access,
): number {
  const w1 = pmdWord(mem, mm, va);
  const pmd = pteLoad(physWords(mem), w1);
  if (pmd === 0) {
    if (!hugeFaultSuitable(mem, vma, va, access)) return VM_FAULT_FALLBACK;
    const ops = vmOps(vmaOpsId(mem, vma))!;
    return ops.hugeFault!(ops.ctx, hugeVmf(mem, mm, vma, va, access));
  }
  if (!pmdIsHuge(pmd)) return VM_FAULT_FALLBACK;
  if ((pmd & PTE_PROTNONE) !== 0) {
    // mprotect rewrites every entry of a VMA it makes accessible, under mmap_lock write.
    throw new KernelPanic("handleHugePmd", `PROT_NONE megapage at 0x${va.toString(16)}`);
  }
  if (access === ACCESS_WRITE && (pmd & PTE_W) === 0) {
    const ops = vmOps(vmaOpsId(mem, vma));
    if ((vmaFlags(mem, vma) & VM_SHARED) !== 0 && ops?.hugeFault !== undefined) {
      const r = ops.hugeFault(ops.ctx, hugeVmf(mem, mm, vma, va, access));
      if ((r & VM_FAULT_FALLBACK) === 0) return r;
    }
    splitHugePmd(mem, mm, va);
    return VM_FAULT_FALLBACK;
  }
  // Spurious: another Worker mapped it, or only A/D or R/X were missing.
  const add = vmPteBits(vmaFlags(mem, vma), false) | PTE_A |
    (access === ACCESS_WRITE ? PTE_D : 0);
  ptlLock(mem, mm);
  if (pmdSame(pteLoad(physWords(mem), w1), pmd)) pteModify(physWords(mem), w1, 0, add);
  ptlUnlock(mem, mm);
  return 0;
}

/**
 * Map the 4 MiB at `haddr` of VM_MIXEDMAP VMA `vma` to the 1024 frames from
 * `pfn` with one megapage (Linux's vmf_insert_pfn_pmd). If a megapage of
 * the same frames is there, a `writable` insert upgrades it (mkwrite);
 * another megapage means another Worker won. A level-0 table in the way
 * (some 4 KiB PTE of this mm in the range) means FALLBACK.
 * Entry: mmap_lock held (read); page_table_lock not held.
 *
 * @returns VM_FAULT_NOPAGE or VM_FAULT_FALLBACK
 * @throws KernelPanic for a misaligned pfn, an unaligned address, a VMA
 *   that is not VM_MIXEDMAP, or a writable insert into a read-only VMA
 */
export function insertPfnPmd(
  mem: Memory,
  mm: MmId,
  vma: VmaId,
  haddr: VirtAddr,
  pfn: Pfn,
  writable: boolean,
): number {
  const flags = vmaFlags(mem, vma);
  if ((flags & VM_MIXEDMAP) === 0) throw new KernelPanic("insertPfnPmd", `vma ${vma} not MIXEDMAP`);
  if (pfn % HPAGE_PMD_NR !== 0 || haddr % HPAGE_PMD_SIZE !== 0) {
    throw new KernelPanic(
      "insertPfnPmd",
      `misaligned pfn ${pfn} or address 0x${haddr.toString(16)}`,
    );
  }
  if (writable && (flags & VM_WRITE) === 0) {
    throw new KernelPanic("insertPfnPmd", `writable insert into read-only vma ${vma}`);
  }
  const p32 = physWords(mem);
  const w1 = pmdWord(mem, mm, haddr);
  ptlLock(mem, mm);
  try {
    const cur = pteLoad(p32, w1);
    if (cur === 0) {
      const bits = PTE_V | PTE_U | PTE_A | PTE_SPECIAL | vmPteBits(flags, writable) |
        (writable ? PTE_D : 0);
      Atomics.store(p32, w1, pfnToPte(pfn, bits) | 0);
      for (let i = 0; i < HPAGE_PMD_NR; i++) noteDeviceMapped(mem, asPfn(pfn + i));
      return VM_FAULT_NOPAGE;
    }
    if (!pmdIsHuge(cur)) return VM_FAULT_FALLBACK;
    if (writable && pteToPfn(cur) === pfn && (cur & PTE_W) === 0) {
      pteModify(p32, w1, 0, PTE_R | PTE_W | PTE_A | PTE_D);
    }
    return VM_FAULT_NOPAGE;
  } finally {
    ptlUnlock(mem, mm);
  }
}

/**
 * Make sure no megapage maps `va` in mm `mm` (Linux's split_huge_pmd): the
 * one there, if any, becomes a table of 1024 PTEs with the same frames and
 * bits; when no frame is free for the table it is zapped whole instead
 * (its TLB entries shot down; the next access refaults). For fork, gup and
 * COW, and anything else about to work on single pages of a megapage.
 * Entry: mmap_lock held (read or write) or the i_mmap lock of the mapped
 * file; no page_table_lock.
 */
export function splitHugePmd(mem: Memory, mm: MmId, va: number): void {
  const w1 = pmdWord(mem, mm, asVirt(va));
  ptlLock(mem, mm);
  let zapped = false;
  if (pmdIsHuge(pteLoad(physWords(mem), w1)) && !splitHugePmdLocked(mem, mm, w1)) {
    pteClear(physWords(mem), w1); // pte_special: nothing to release
    zapped = true;
  }
  ptlUnlock(mem, mm);
  if (zapped) flushTlbMm(mem, mm);
}

/**
 * thp_get_unmapped_area for a file mapping that may take megapages:
 * an address whose offset within 4 MiB equals the file offset's, so that
 * every 4 MiB-aligned part of the file lands on a 4 MiB-aligned address.
 * `find(len)` is the ordinary search (getUnmappedArea); the range is found
 * 4 MiB longer and trimmed at the aligned point, as Linux's
 * __thp_get_unmapped_area does. Entry: mmap_lock held.
 *
 * @returns the address, or find's -errno when not even the padded range fits
 *   (the caller falls back to the ordinary search)
 */
export function thpGetUnmappedArea(
  find: (len: number) => number,
  size: number,
  pgoff: number,
): number {
  const padded = size + HPAGE_PMD_SIZE;
  const at = find(padded);
  if (at < 0) return at;
  const offSub = (pgoff % HPAGE_PMD_NR) << PAGE_SHIFT;
  return at + ((offSub - (at % HPAGE_PMD_SIZE) + HPAGE_PMD_SIZE) % HPAGE_PMD_SIZE);
}
