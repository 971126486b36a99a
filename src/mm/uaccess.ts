/**
 * Copies between the kernel and a user address space, for syscalls
 * (Linux's copy_from_user, copy_to_user, strncpy_from_user).
 *
 * They translate through the mm's page tables exactly as the hart would,
 * and on a missing or insufficient PTE they fault the page in with
 * handleMmFaultLocked, as a trap from the hart would; a fault that cannot be
 * resolved is -EFAULT. Each page is copied while holding the page-table lock
 * over a PTE that was just checked, so a concurrent munmap, MADV_DONTNEED or
 * truncate (which must take that lock to clear it) cannot free the frame
 * mid-copy, even when it is a device frame that cannot be pinned.
 * Entry for all: no lock held; they take mmap_lock for reading.
 *
 * @module
 */

import { EFAULT } from "../abi/errno.ts";
import {
  type Access,
  ACCESS_READ,
  ACCESS_WRITE,
  PTE_A,
  PTE_D,
  PTE_U,
  pteIsLeaf,
  pteToPfn,
} from "../abi/sv32.ts";
import {
  asPte,
  asVirt,
  type MmId,
  PAGE_SIZE,
  pageOffset,
  pageRoundDown,
  type VirtAddr,
} from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { codeWritten } from "../hw/jit/shared.ts";
import { expandStackUnlocked, handleMmFaultLocked, VM_FAULT_EXPAND_STACK } from "./fault.ts";
import { mmapReadLock, mmapReadUnlock, ptlLock, ptlUnlock, TASK_SIZE } from "./mm.ts";
import { hugePfnAt, physWords, pmdWord, pteLoad, pteModify, walk, WALK_HUGE } from "./pgtable.ts";

/** Faults tolerated on one page (each retry means another Worker changed it meanwhile). */
const MAX_RETRIES = 32;

/**
 * Run `body(physOffset, n)` over [va, va + len), page by page, with the
 * page-table lock held around each chunk and a PTE that allows `access`.
 *
 * @returns 0 or -EFAULT
 */
function forUserRange(
  mem: Memory,
  mm: MmId,
  va: number,
  len: number,
  access: Access,
  body: (phys: number, done: number, n: number) => boolean,
): number {
  if (len === 0) return 0;
  if (va < 0 || va + len > TASK_SIZE || va + len < va) return -EFAULT;
  const p32 = physWords(mem);
  const need = PTE_U | access;
  mmapReadLock(mem, mm);
  try {
    for (let done = 0; done < len;) {
      const at = asVirt(va + done);
      const n = Math.min(len - done, PAGE_SIZE - pageOffset(at));
      let copied = false;
      for (let tries = 0; !copied; tries++) {
        if (tries === MAX_RETRIES) return -EFAULT;
        let w = walk(mem, mm, asVirt(pageRoundDown(at)), false);
        // A megapage: its root entry is the leaf (huge_memory.ts).
        const huge = w === WALK_HUGE;
        if (huge) w = pmdWord(mem, mm, at);
        ptlLock(mem, mm);
        const pte = w < 0 ? asPte(0) : pteLoad(p32, w);
        if (w >= 0 && pteIsLeaf(pte) && (pte & need) === need) {
          if (access === ACCESS_WRITE && (pte & PTE_D) === 0) pteModify(p32, w, 0, PTE_A | PTE_D);
          const pfn = huge ? hugePfnAt(pte, at) : pteToPfn(pte);
          const stop = !body(pfn * PAGE_SIZE + pageOffset(at), done, n);
          ptlUnlock(mem, mm);
          if (stop) return 0;
          copied = true;
        } else {
          ptlUnlock(mem, mm);
          const r = handleMmFaultLocked(mem, mm, at, access);
          if (r === VM_FAULT_EXPAND_STACK) {
            // Growing a stack needs mmap_lock for writing: drop ours meanwhile.
            mmapReadUnlock(mem, mm);
            const e = expandStackUnlocked(mem, mm, at);
            mmapReadLock(mem, mm);
            if (e < 0) return -EFAULT;
          } else if (r !== 0) return -EFAULT;
        }
      }
      done += n;
    }
    return 0;
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

/**
 * Copy `len` bytes from user address `va` of mm `mm`. Entry: no lock held
 * (the task in kernel mode); takes mmap_lock for reading, and
 * page_table_lock around each page's copy (dropped to fault a page in, or
 * mmap_lock too to grow a stack); returns with nothing held.
 *
 * @returns the bytes, or -EFAULT when any part is not readable
 */
export function copyFromUser(
  mem: Memory,
  mm: MmId,
  va: VirtAddr,
  len: number,
): Uint8Array | number {
  const out = new Uint8Array(len);
  const r = forUserRange(mem, mm, va, len, ACCESS_READ, (phys, done, n) => {
    out.set(mem.u8.subarray(phys, phys + n), done);
    return true;
  });
  return r < 0 ? r : out;
}

/**
 * Copy `bytes` to user address `va` of mm `mm`. On -EFAULT a prefix may have
 * been written, as in Linux. Entry: no lock held; locks as copyFromUser
 * (mmap_lock for reading, page_table_lock per page; nothing held on return).
 *
 * @returns 0, or -EFAULT when any part is not writable
 */
export function copyToUser(mem: Memory, mm: MmId, va: VirtAddr, bytes: Uint8Array): number {
  return forUserRange(mem, mm, va, bytes.length, ACCESS_WRITE, (phys, done, n) => {
    mem.u8.set(bytes.subarray(done, done + n), phys);
    codeWritten(mem, phys, n);
    return true;
  });
}

/**
 * Copy a NUL-terminated string of at most `max` bytes from user address
 * `va`. Stops at the first NUL without touching the pages after it. Entry:
 * no lock held; locks as copyFromUser.
 *
 * @returns the bytes before the NUL; exactly `max` bytes when there was no
 *   NUL within them (the caller decides, e.g. -ENAMETOOLONG); or -EFAULT
 */
export function strncpyFromUser(
  mem: Memory,
  mm: MmId,
  va: VirtAddr,
  max: number,
): Uint8Array | number {
  const out = new Uint8Array(max);
  let len = max;
  const r = forUserRange(mem, mm, va, max, ACCESS_READ, (phys, done, n) => {
    const i = mem.u8.subarray(phys, phys + n).indexOf(0);
    if (i < 0) {
      out.set(mem.u8.subarray(phys, phys + n), done);
      return true;
    }
    out.set(mem.u8.subarray(phys, phys + i), done);
    len = done + i;
    return false;
  });
  return r < 0 ? r : out.slice(0, len);
}
