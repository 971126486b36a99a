/**
 * The hart's Sv32 page-table walker, the hardware side of translation.
 *
 * Page-table pages are RAM frames of the physical buffer; PTEs are read with
 * Atomics.load and the A and D bits are set with compareExchange on the PTE
 * word, because the kernel may rewrite the same word from another Worker at
 * any moment (riscv privileged spec, "Virtual Address Translation Process",
 * steps 2-8; the A/D update must be atomic with the permission check).
 *
 * The walk is for user mode only: every leaf needs U, there is no SUM or MXR.
 *
 * @module
 */

import {
  type Access,
  ACCESS_WRITE,
  PTE_A,
  PTE_D,
  PTE_R,
  PTE_U,
  PTE_V,
  PTE_W,
  PTE_X,
} from "../abi/sv32.ts";

/** The translation has no valid leaf or lacks the permission: page fault (cause 12/13/15). */
export const WALK_PAGE_FAULT = -1;
/** A PTE names a frame outside physical memory: access fault (cause 1/5/7). */
export const WALK_ACCESS_FAULT = -2;

const WORDS_PER_FRAME = 1024;

/**
 * Translate `va` for a user-mode `access` by walking the two-level table
 * whose root is frame `rootPfn`, setting A (and D for a write) in the leaf.
 *
 * Caller holds nothing: the walk takes no lock and tolerates concurrent PTE
 * updates (a PTE that changes between the check and the A/D update is read
 * again and checked again).
 *
 * @param m32 the physical buffer as 32-bit words
 * @param rootPfn frame of the root (level-1) table, satp.PPN
 * @param va virtual address (any int32 or uint32 form)
 * @param access ACCESS_READ, ACCESS_WRITE or ACCESS_EXEC
 * @param frames frames of physical memory; a PTE naming one at or past it is an access fault
 *   (default: every frame of `m32`)
 * @returns the physical byte address of the 4 KiB frame that holds `va` (a
 *   superpage yields the 4 KiB frame inside it), or WALK_PAGE_FAULT, or
 *   WALK_ACCESS_FAULT
 */
export function sv32Walk(
  m32: Int32Array,
  rootPfn: number,
  va: number,
  access: Access,
  frames: number = m32.length / WORDS_PER_FRAME,
): number {
  let table = rootPfn;
  for (let level = 1; level >= 0; level--) {
    if (table >= frames) return WALK_ACCESS_FAULT;
    const slot = table * WORDS_PER_FRAME + ((va >>> (12 + 10 * level)) & 0x3ff);
    for (;;) {
      const pte = Atomics.load(m32, slot);
      // W without R is a reserved encoding.
      if ((pte & PTE_V) === 0 || (pte & (PTE_R | PTE_W)) === PTE_W) return WALK_PAGE_FAULT;
      if ((pte & (PTE_R | PTE_W | PTE_X)) === 0) {
        if (level === 0) return WALK_PAGE_FAULT; // a pointer where a leaf must be
        table = pte >>> 10;
        break;
      }
      if ((pte & PTE_U) === 0 || (pte & access) === 0) return WALK_PAGE_FAULT;
      let pfn = pte >>> 10;
      if (level === 1) {
        if ((pfn & 0x3ff) !== 0) return WALK_PAGE_FAULT; // misaligned superpage
        pfn += (va >>> 12) & 0x3ff;
      }
      if (pfn >= frames) return WALK_ACCESS_FAULT;
      const want = pte | PTE_A | (access === ACCESS_WRITE ? PTE_D : 0);
      // Lost a race with the kernel: check the new PTE from the start.
      if (want !== pte && Atomics.compareExchange(m32, slot, pte, want) !== pte) continue;
      return pfn * 4096;
    }
  }
  return WALK_PAGE_FAULT; // not reached: level 0 always returns
}
