/**
 * Memory failure on the memory device: Linux's mm/memory-failure.c for
 * fsdax (memory_failure → the DAX holder's notify_failure →
 * mf_dax_kill_procs), and the persistence of the device's poison list in
 * the xipfs image (pmem's badblocks survive a reboot through address range
 * scrub; here they survive in the image).
 *
 * ```
 * setPoison(c, b, n) ─── HWPOISON.lock: set the bits (src/hw/badblocks.ts),
 *                         rewrite the list in block 0 (xipfs_poison.ts)
 * memoryFailure(c, blocks) for each mapped inode (i_mmap not empty) whose map
 *   names a poisoned block at iblock:
 *     invalidate_lock(read) → PMD-range lock(read) → DAX entry: a fault in
 *       flight on that page finishes (one starting later sees the bit and
 *       fails with VM_FAULT_HWPOISON)
 *     i_mmap: every VMA mapping iblock → a victim (mm, address), for early kill
 *     unmapMappingRange(iblock): every PTE gone (a megapage is split first),
 *       TLBs shot down; the next touch faults → SIGBUS BUS_MCEERR_AR
 * ```
 *
 * Private COW copies of a poisoned block are RAM and stay mapped
 * (even_cows is false). A block nobody maps needs nothing: its reads and
 * faults check the bit.
 *
 * @module
 */

import { invalidateLockShared, invalidateUnlockShared } from "./xipfs/xipfs_locks.ts";
import { ICACHE_SLOTS, ISLOT } from "../abi/layout/mod.ts";
import { asIno, asInodeSlot, type InodeSlot, type MmId } from "../abi/types.ts";
import { immapHeadWord, immapLock, immapUnlock, unmapMappingRange } from "../mm/rmap.ts";
import { immapList, vmaEnd, vmaMm, vmaPgoff, vmaStart } from "../mm/vma.ts";
import { daxLockEntry, daxPmdLockShared, daxPmdUnlockShared, daxUnlockEntry } from "./dax_fault.ts";
import { bmapWalk } from "./xipfs/xipfs_bmap.ts";
import { islotBase, type XipCtx } from "./xipfs/xipfs_ctx.ts";

/** A process that maps a newly poisoned page: for early kill (PR_MCE_KILL_EARLY). */
export interface PoisonVictim {
  readonly mm: MmId;
  /** The user address of the poisoned page in that mm. */
  readonly va: number;
}

/**
 * Take newly poisoned `blocks` out of every process that maps them (see
 * the module comment). Entry: the blocks' bits are set; the caller may
 * hold one mm's mmap_lock for reading (madvise), nothing else.
 *
 * @returns the (mm, address) of every mapping of a poisoned page, for early kill
 */
export function memoryFailure(c: XipCtx, blocks: readonly number[]): PoisonVictim[] {
  const victims: PoisonVictim[] = [];
  if (blocks.length === 0) return victims;
  const bad = new Set(blocks);
  for (let slot = 1; slot < ICACHE_SLOTS; slot++) {
    const base = islotBase(c, slot);
    const ino = Atomics.load(c.k32, base + ISLOT.ino);
    if (ino === 0 || Atomics.load(c.k32, base + ISLOT.iMmap) === 0) continue;
    const hits: number[] = [];
    bmapWalk(c.vol, asIno(ino), (b, iblock, kind, valid) => {
      if (kind === "data" && valid && bad.has(b)) hits.push(iblock);
    });
    for (const iblock of hits) failPage(c, asInodeSlot(slot), iblock, victims);
  }
  return victims;
}

/** Wait for faults in flight on (slot, iblock), collect its mappers, unmap it everywhere. */
function failPage(c: XipCtx, slot: InodeSlot, iblock: number, victims: PoisonVictim[]): void {
  const ip = { slot };
  invalidateLockShared(c, ip);
  daxPmdLockShared(c.mem, slot, iblock);
  daxLockEntry(c.mem, slot, iblock);
  daxUnlockEntry(c.mem, slot, iblock);
  daxPmdUnlockShared(c.mem, slot, iblock);
  invalidateUnlockShared(c, ip);
  immapLock(c.mem, slot);
  try {
    for (const v of immapList(c.mem, immapHeadWord(c.mem, slot))) {
      const va = vmaStart(c.mem, v) + (iblock - vmaPgoff(c.mem, v)) * 4096;
      if (va >= vmaStart(c.mem, v) && va < vmaEnd(c.mem, v)) {
        victims.push({ mm: vmaMm(c.mem, v), va });
      }
    }
  } finally {
    immapUnlock(c.mem, slot);
  }
  unmapMappingRange(c.mem, slot, iblock, 1);
}
