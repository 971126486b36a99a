/**
 * mprotect(2): change the protection of a range of VMAs and of their PTEs (Linux's mm/mprotect.c).
 *
 * @module
 */

import { EACCES, EINVAL, ENOMEM } from "../abi/errno.ts";
import { PTE_R, PTE_V, PTE_W, PTE_X } from "../abi/sv32.ts";
import { asPte, asVirt, type MmId, PAGE_SIZE, pageRoundUp } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { mmapWriteLock, mmapWriteUnlock, ptlLock, ptlUnlock, TASK_SIZE } from "./mm.ts";
import {
  PGDIR_SIZE,
  physWords,
  pmdWord,
  PTE_PROTNONE,
  pteClear,
  pteModify,
  ptePresent,
  splitHugePmdLocked,
  vmPteBits,
  walk,
  WALK_HUGE,
} from "./pgtable.ts";
import { flushTlbMm } from "./tlb_flush.ts";
import {
  findVma,
  setVmaFlags,
  VM_ACCESS,
  VM_MAY_SHIFT,
  VM_WRITE,
  vmaEnd,
  vmaFlags,
  vmaMergeAnon,
  vmaNext,
  vmaStart,
} from "./vma.ts";
import { aligned, PROT_ALL, protToVm, splitAround } from "./mmap.ts";

// mprotect

/**
 * Change the protection of [addr, addr + len) (Linux's do_mprotect_pkey).
 * VMAs are split at the bounds. A protection the VMA may not have (its
 * VM_MAY* bits: a shared mapping of a read-only fd cannot become writable)
 * fails with -EACCES; the whole range is checked before anything changes.
 * PTEs lose permissions at once (with a TLB shootdown); W is never added
 * here, the next write faults and decides (COW or reuse).
 * Entry: no lock held.
 *
 * @returns 0, -EINVAL (misaligned, unknown bits), -ENOMEM (a hole in the
 *   range, or no VMA slot for a split), -EACCES
 */
export function doMprotect(
  mem: Memory,
  mm: MmId,
  addr: number,
  len: number,
  prot: number,
): number {
  addr >>>= 0;
  len >>>= 0;
  if (!aligned(addr) || (prot & ~PROT_ALL) !== 0) return -EINVAL;
  if (len === 0) return 0;
  const end = addr + pageRoundUp(len);
  if (end > TASK_SIZE || end <= addr) return -ENOMEM;
  const want = protToVm(prot);
  mmapWriteLock(mem, mm);
  try {
    // Check: no hole, every VMA may take the new protection.
    let at = addr;
    for (let v = findVma(mem, mm, asVirt(addr)); at < end; v = vmaNext(mem, v)) {
      if (v === 0 || vmaStart(mem, v) > at) return -ENOMEM;
      const may = (vmaFlags(mem, v) >>> VM_MAY_SHIFT) & VM_ACCESS;
      if ((want & ~may) !== 0) return -EACCES;
      at = vmaEnd(mem, v);
    }
    const r = splitAround(mem, mm, addr, end);
    if (r < 0) return r;
    let weakened = false;
    for (
      let v = findVma(mem, mm, asVirt(addr));
      v !== 0 && vmaStart(mem, v) < end;
      v = vmaNext(mem, v)
    ) {
      const old = vmaFlags(mem, v);
      setVmaFlags(mem, v, (old & ~VM_ACCESS) | want);
      if ((old & VM_ACCESS & ~want) !== 0) weakened = true;
      changeProtection(mem, mm, vmaStart(mem, v), vmaEnd(mem, v), want);
    }
    if (weakened) flushTlbMm(mem, mm);
    // Pieces that now match their neighbours become one again.
    for (let v = findVma(mem, mm, asVirt(addr === 0 ? 0 : addr - 1)); v !== 0;) {
      if (vmaStart(mem, v) > end) break;
      v = vmaNext(mem, vmaMergeAnon(mem, mm, v));
    }
    return 0;
  } finally {
    mmapWriteUnlock(mem, mm);
  }
}

/**
 * Rewrite the permission bits of every present PTE in [start, end) for VM
 * access bits `vm`: R and X follow, W is only ever removed; a VMA with no
 * access turns its leaves into PROT_NONE PTEs (V clear, frame kept).
 * Entry: mmap_lock write. Caller flushes the TLB if anything was removed.
 */
function changeProtection(mem: Memory, mm: MmId, start: number, end: number, vm: number): void {
  const p32 = physWords(mem);
  const rx = vmPteBits(vm, false);
  const keepW = (vm & VM_WRITE) !== 0 ? PTE_W : 0;
  const change = (w: number): void => {
    const pte = Atomics.load(p32, w);
    if (!ptePresent(asPte(pte))) return;
    if (vm === 0) {
      pteModify(p32, w, PTE_V | PTE_R | PTE_W | PTE_X, PTE_PROTNONE);
    } else {
      // A write-only request still reads (riscv), so rx always has R or X.
      const w0 = pte & PTE_W & keepW;
      pteModify(p32, w, PTE_PROTNONE | PTE_R | PTE_W | PTE_X, PTE_V | rx | w0);
    }
  };
  let zapped = false;
  ptlLock(mem, mm);
  for (let va = start; va < end; va += PAGE_SIZE) {
    let w = walk(mem, mm, asVirt(va), false);
    if (w === WALK_HUGE) {
      // Linux's change_huge_pmd for a megapage the range covers, else split it first.
      const w1 = pmdWord(mem, mm, asVirt(va));
      if (va % PGDIR_SIZE === 0 && va + PGDIR_SIZE <= end) {
        change(w1);
        va += PGDIR_SIZE - PAGE_SIZE;
        continue;
      }
      if (!splitHugePmdLocked(mem, mm, w1)) {
        pteClear(p32, w1); // no frame for the table: zap it whole (DAX refaults)
        zapped = true;
        continue;
      }
      w = walk(mem, mm, asVirt(va), false);
    }
    if (w < 0) {
      va = (Math.floor(va / (PAGE_SIZE * 1024)) + 1) * PAGE_SIZE * 1024 - PAGE_SIZE;
      continue;
    }
    change(w);
  }
  ptlUnlock(mem, mm);
  if (zapped) flushTlbMm(mem, mm);
}
