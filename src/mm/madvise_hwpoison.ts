/**
 * madvise(MADV_HWPOISON): inject memory failure on the pages of a range,
 * as Linux's madvise_inject_error does (CAP_SYS_ADMIN there; xip's guests
 * run as root). Each page is faulted in for reading (get_user_pages), its
 * frame found (a megapage's 4 KiB frame included), and handed to the
 * memory-failure handler the kernel installs (src/kernel/memory_failure.ts),
 * which poisons the device block, takes it out of every process and
 * kills early-kill processes. The caller itself gets SIGBUS when it
 * touches the page again, as in Linux.
 *
 * Only device frames can be poisoned here: memory failure of RAM (an
 * anonymous or page-cache frame) is not modelled, and gives -EINVAL.
 *
 * @module
 */

import { asErrno, EFAULT, EINVAL, type Errno, isErr } from "../abi/errno.ts";
import { ACCESS_READ, pteIsLeaf, pteToPfn } from "../abi/sv32.ts";
import { asPte, asVirt, type MmId, PAGE_SIZE, type Pfn } from "../abi/types.ts";
import { type Memory } from "../hw/memory.ts";
import { handleMmFaultLocked } from "./fault.ts";
import { pfnIsDevice } from "./memmap.ts";
import { hugePfnAt, physWords, pmdWord, pteLoad, walk, WALK_HUGE } from "./pgtable.ts";

/** What the kernel does with a poisoned device frame: 0, or -errno. Entry: mmap_lock held (read). */
export type MemoryFailureHook = (mem: Memory, pfns: readonly Pfn[]) => number;

let hook: MemoryFailureHook | null = null;

/** Install this thread's memory-failure handler (the kernel does, when it wires the file system). */
export function setMemoryFailureHook(h: MemoryFailureHook): void {
  hook = h;
}

/**
 * The frame mapped at `va` of mm `mm`, faulting it in for reading first.
 * Entry: mmap_lock held for reading.
 *
 * @returns the pfn, or -EFAULT when nothing can be mapped there
 */
function frameAt(mem: Memory, mm: MmId, va: number): Pfn | Errno {
  const p32 = physWords(mem);
  for (let tries = 0; tries < 8; tries++) {
    const w = walk(mem, mm, asVirt(va), false);
    const huge = w === WALK_HUGE;
    const pte = huge
      ? pteLoad(p32, pmdWord(mem, mm, asVirt(va)))
      : w < 0
      ? asPte(0)
      : pteLoad(p32, w);
    if (pteIsLeaf(pte)) return huge ? hugePfnAt(pte, va) : pteToPfn(pte);
    if (handleMmFaultLocked(mem, mm, asVirt(va), ACCESS_READ) !== 0) return asErrno(-EFAULT);
  }
  return asErrno(-EFAULT);
}

/**
 * MADV_HWPOISON over [addr, end) of mm `mm`. Entry: mmap_lock held for
 * reading; the range is page aligned and inside user space.
 *
 * @returns 0, -EFAULT (a page that cannot be mapped), -EINVAL (a RAM page,
 *   or no handler installed)
 */
export function madviseHwpoison(mem: Memory, mm: MmId, addr: number, end: number): number {
  if (hook === null) return -EINVAL;
  const pfns: Pfn[] = [];
  for (let va = addr; va < end; va += PAGE_SIZE) {
    const pfn = frameAt(mem, mm, va);
    if (isErr(pfn)) return pfn;
    if (!pfnIsDevice(mem, pfn)) return -EINVAL;
    pfns.push(pfn);
  }
  return hook(mem, pfns);
}
