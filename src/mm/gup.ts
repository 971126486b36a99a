/**
 * get_user_pages: pin the struct pages behind a range of user addresses so
 * the kernel can use the frames (O_DIRECT copies into or out of them)
 * without holding any lock, and the frames cannot be freed meanwhile.
 *
 * A pin is a reference (getPage); unpinUserPages drops it. Only frames with
 * a struct page can be pinned. A pte_special PTE — a DAX device frame on a
 * machine without a device memmap — has none, so gup fails on it with
 * -EFAULT: the seeds' stated shortcoming ("get_user_pages on an XIP mapping
 * fails"), reproduced on purpose. With a device memmap (ZONE_DEVICE) DAX
 * frames are refcounted and pin like RAM; truncate then waits for the pins
 * to go (file_vm_ops.ts truncateUnmap, dax_layout_busy_page).
 *
 * Two walks, as in Linux:
 * - getUserPages: under mmap_lock (read), PTE checked and pinned under the
 *   page-table lock, faulting missing or read-only pages in as the hart
 *   would (a write pin breaks COW first). A megapage is split first
 *   (huge_memory.ts splitHugePmd): a pin is on one page.
 * - getUserPagesFast: no mmap_lock, no page-table lock; PTEs read with
 *   Atomics, pinned with getPageUnlessZero and re-checked afterwards. What
 *   keeps the page tables it walks alive is the TLB shootdown protocol: for
 *   the walk the task publishes itself in user mode on its own mm without
 *   acknowledging, so any munmap or truncate that cleared a PTE waits in
 *   flushTlbMm before it frees a frame or a table page — Linux's
 *   local_irq_disable() against the flush IPI. It refuses special PTEs and
 *   anything it cannot pin safely, and falls back to the locked walk for
 *   the rest of the range.
 *
 * @module
 */

import { asErrno, EFAULT, EINVAL, type Errno, isErr } from "../abi/errno.ts";
import { TASK_TLB, taskBase } from "../abi/layout/mod.ts";
import {
  type Access,
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_A,
  PTE_D,
  PTE_U,
  PTE_W,
  pteIsLeaf,
  pteIsSpecial,
  pteIsTable,
  pteToPfn,
} from "../abi/sv32.ts";
import { asVirt, type MmId, PAGE_MASK, PAGE_SIZE, type Pfn, type Pte } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { currentTid } from "../sync/mod.ts";
import { expandStackUnlocked, handleMmFaultLocked, VM_FAULT_EXPAND_STACK } from "./fault.ts";
import { getPage, getPageUnlessZero, pfnValid, putPage } from "./memmap.ts";
import { mmapReadLock, mmapReadUnlock, ptlLock, ptlUnlock, TASK_SIZE } from "./mm.ts";
import {
  mmRoot,
  physWords,
  pmdOffset,
  pteLoad,
  pteModify,
  pteOffset,
  walk,
  WALK_HUGE,
} from "./pgtable.ts";
import { splitHugePmd } from "./huge_memory.ts";
import { TLB_MODE_USER } from "./tlb_flush.ts";

/** Faults tolerated on one page (each retry means another Worker changed it meanwhile). */
const MAX_RETRIES = 32;

/** Whether leaf `pte` lets a user `access` through (write pins need W). */
const pteAllows = (pte: Pte, access: Access): boolean =>
  pteIsLeaf(pte) && (pte & (PTE_U | access)) === (PTE_U | access);

function checkRange(va: number, nrPages: number): number {
  if ((va & PAGE_MASK) !== 0 || !Number.isInteger(nrPages) || nrPages < 0) return -EINVAL;
  if (va < 0 || va + nrPages * PAGE_SIZE > TASK_SIZE) return -EFAULT;
  return 0;
}

/** Drop the pins of `pfns`. Entry: no lock needed. */
export function unpinUserPages(mem: Memory, pfns: readonly Pfn[]): void {
  for (const p of pfns) putPage(mem, p);
}

/**
 * Pin one page with mmap_lock held for reading: check the PTE under the
 * page-table lock and take the reference there, or fault and retry.
 *
 * @returns the pfn, or -EFAULT
 */
function pinOneLocked(mem: Memory, mm: MmId, va: number, access: Access): Pfn | Errno {
  const p32 = physWords(mem);
  for (let tries = 0; tries < MAX_RETRIES; tries++) {
    const w = walk(mem, mm, asVirt(va), false);
    if (w === WALK_HUGE) {
      // Pins are per page: split the megapage (Linux's gup follows it;
      // xip splits, so every pin sits on a counted PTE).
      splitHugePmd(mem, mm, va);
      continue;
    }
    ptlLock(mem, mm);
    const pte = w < 0 ? (0 as Pte) : pteLoad(p32, w);
    if (pteAllows(pte, access)) {
      const pfn = pteToPfn(pte);
      // No struct page to pin: a DAX frame without a device memmap.
      const ok = !pteIsSpecial(pte) && pfnValid(mem, pfn);
      if (ok) {
        getPage(mem, pfn);
        if (access === ACCESS_WRITE && (pte & PTE_D) === 0) pteModify(p32, w, 0, PTE_A | PTE_D);
      }
      ptlUnlock(mem, mm);
      return ok ? pfn : asErrno(-EFAULT);
    }
    ptlUnlock(mem, mm);
    const r = handleMmFaultLocked(mem, mm, asVirt(va), access);
    if (r === VM_FAULT_EXPAND_STACK) {
      mmapReadUnlock(mem, mm);
      const e = expandStackUnlocked(mem, mm, asVirt(va));
      mmapReadLock(mem, mm);
      if (e < 0) return asErrno(-EFAULT);
    } else if (r !== 0) return asErrno(-EFAULT);
  }
  return asErrno(-EFAULT);
}

/**
 * Pin the pages behind [va, va + nrPages pages) of mm `mm`, faulting them
 * in as needed (Linux's get_user_pages / pin_user_pages). `write` asks for
 * pages the caller will write into (a read(2) into the buffer): COW is
 * broken and the pages are marked dirty. Entry: no lock held; takes
 * mmap_lock for reading. On failure nothing stays pinned.
 *
 * @returns the pinned pfns (release with unpinUserPages), or -EINVAL
 *   (va not page aligned), -EFAULT (unmapped, not allowed, or a frame with
 *   no struct page: a DAX mapping without a device memmap)
 */
export function getUserPages(
  mem: Memory,
  mm: MmId,
  va: number,
  nrPages: number,
  write: boolean,
): Pfn[] | number {
  const bad = checkRange(va, nrPages);
  if (bad < 0) return bad;
  return pinLocked(mem, mm, va, nrPages, write, []);
}

function pinLocked(
  mem: Memory,
  mm: MmId,
  va: number,
  nrPages: number,
  write: boolean,
  out: Pfn[],
): Pfn[] | number {
  const access = write ? ACCESS_WRITE : ACCESS_READ;
  mmapReadLock(mem, mm);
  try {
    for (let i = out.length; i < nrPages; i++) {
      const r = pinOneLocked(mem, mm, va + i * PAGE_SIZE, access);
      if (isErr(r)) {
        unpinUserPages(mem, out);
        return r;
      }
      out.push(r);
    }
    return out;
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

/**
 * Try to pin one page without any lock. Entry: the task is published in
 * user mode on `mm` (no frame or table reachable from its page tables can
 * be freed until it leaves that mode).
 *
 * @returns the pfn, or -1 when the fast path cannot do it
 */
function pinOneFast(
  mem: Memory,
  p32: Int32Array,
  root: number,
  va: number,
  write: boolean,
): Pfn | -1 {
  const w1 = pmdOffset(root, va);
  const pde = pteLoad(p32, w1);
  if (!pteIsTable(pde)) return -1;
  const w0 = pteOffset(pde, va);
  const pte = pteLoad(p32, w0);
  // A write pin needs a PTE the hart could store through without a fault (W and D).
  if (!pteAllows(pte, write ? ACCESS_WRITE : ACCESS_READ) || pteIsSpecial(pte)) return -1;
  if (write && (pte & (PTE_W | PTE_D)) !== (PTE_W | PTE_D)) return -1;
  const pfn = pteToPfn(pte);
  if (!pfnValid(mem, pfn) || !getPageUnlessZero(mem, pfn)) return -1;
  // Re-check both levels after pinning: undo if the mapping changed meanwhile.
  if (pteLoad(p32, w1) !== pde || pteLoad(p32, w0) !== pte) {
    putPage(mem, pfn);
    return -1;
  }
  return pfn;
}

/**
 * getUserPages without mmap_lock for the pages that are already mapped
 * with a pinnable PTE (Linux's get_user_pages_fast); the first page it
 * cannot take (missing, read-only for a write, special, no struct page,
 * refcount 0) and everything after it goes through the locked walk. Entry:
 * no lock held; `mm` must be the mm the calling task runs (the task's TLB
 * words name it), as gup-fast only ever works on current->mm; otherwise
 * the whole range takes the locked walk.
 *
 * @returns as getUserPages
 */
export function getUserPagesFast(
  mem: Memory,
  mm: MmId,
  va: number,
  nrPages: number,
  write: boolean,
): Pfn[] | number {
  const bad = checkRange(va, nrPages);
  if (bad < 0) return bad;
  const out: Pfn[] = [];
  const k32 = mem.k32;
  const tid = currentTid();
  const tb = taskBase(mem.layout, tid);
  if (Atomics.load(k32, tb + TASK_TLB.mm) === mm) {
    const modeW = tb + TASK_TLB.mode;
    const before = Atomics.load(k32, modeW);
    // Publish user mode *before* the first page-table read: a flusher that
    // saw us elsewhere bumped its generation after unlinking what it will
    // free, so nothing we read from here on can be freed under us; one that
    // sees us waits for an ack we do not give until the walk is over.
    Atomics.store(k32, modeW, TLB_MODE_USER);
    try {
      const p32 = physWords(mem);
      const root = mmRoot(mem, mm);
      for (let i = 0; i < nrPages; i++) {
        const pfn = pinOneFast(mem, p32, root, va + i * PAGE_SIZE, write);
        if (pfn === -1) break;
        out.push(pfn);
      }
    } finally {
      Atomics.store(k32, modeW, before);
      if (before !== TLB_MODE_USER) Atomics.notify(k32, tb + TASK_TLB.gen);
    }
  }
  if (out.length === nrPages) return out;
  return pinLocked(mem, mm, va, nrPages, write, out);
}
