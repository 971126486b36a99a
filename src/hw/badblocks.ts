/**
 * The memory device's poisoned blocks: Linux's badblocks list of a pmem
 * namespace (drivers/nvdimm/badrange.c, block/badblocks.c), which address
 * range scrub fills and a write of the whole range clears
 * (pmem_clear_poison). Here one bit per 4 KiB device block in shared
 * memory (layout/mod.ts HWPOISON), so every thread tests it with one load:
 * memory failure's unit is the page, and a poisoned 512-byte sector
 * poisons the block around it.
 *
 * What poison means, and where it is enforced:
 * - the bio path refuses it: bioRead of a poisoned block is -EIO, and a
 *   bioWrite of the whole block clears it (device.ts), as pmem_do_read /
 *   pmem_do_write do;
 * - DAX reads, writes and faults check it (src/fs/dax.ts, dax_fault.ts,
 *   dax_pmd.ts); memory failure takes a newly poisoned block out of every
 *   process (src/fs/hwpoison.ts).
 *
 * The bitmap changes only under HWPOISON.lock (a leaf mutex), so that the
 * list xipfs keeps in its superblock block (src/fs/hwpoison.ts) is written
 * from a consistent view; tests read it with Atomics, no lock.
 *
 * @module
 */

import { HWPOISON } from "../abi/layout/mod.ts";
import type { Memory } from "./memory.ts";

const word = (mem: Memory, b: number): number =>
  mem.layout.hwpoison.base + HWPOISON.bitmap + (b >>> 5);

/** Whether device block `b` is poisoned. Any thread, no lock. */
export function badblockTest(mem: Memory, b: number): boolean {
  if (b < 0 || b >= mem.layout.config.deviceFrames) return false;
  return (Atomics.load(mem.k32, word(mem, b)) & (1 << (b & 31))) !== 0;
}

/** The first poisoned block of [b, b + n), or -1. Any thread, no lock. */
export function badblockFirst(mem: Memory, b: number, n: number): number {
  if (Atomics.load(mem.k32, mem.layout.hwpoison.base + HWPOISON.count) === 0) return -1;
  const end = Math.min(b + n, mem.layout.config.deviceFrames);
  for (let i = Math.max(0, b); i < end; i++) if (badblockTest(mem, i)) return i;
  return -1;
}

/** Poisoned blocks on the device now. */
export const badblockCount = (mem: Memory): number =>
  Atomics.load(mem.k32, mem.layout.hwpoison.base + HWPOISON.count);

/**
 * Mark blocks [b, b + n) poisoned (`on`) or clear them. Entry: the caller
 * holds HWPOISON.lock (hwpoisonLock), or is alone (boot).
 *
 * @returns the blocks whose state changed
 */
export function badblockSet(mem: Memory, b: number, n: number, on: boolean): number[] {
  const changed: number[] = [];
  const end = Math.min(b + n, mem.layout.config.deviceFrames);
  for (let i = Math.max(0, b); i < end; i++) {
    const bit = 1 << (i & 31);
    const old = on
      ? Atomics.or(mem.k32, word(mem, i), bit)
      : Atomics.and(mem.k32, word(mem, i), ~bit);
    if (((old & bit) !== 0) !== on) changed.push(i);
  }
  if (changed.length > 0) {
    Atomics.add(
      mem.k32,
      mem.layout.hwpoison.base + HWPOISON.count,
      on ? changed.length : -changed.length,
    );
  }
  return changed;
}

/** The poisoned blocks as runs [first, blocks], ascending. Any thread, no lock. */
export function badblockRuns(mem: Memory): [number, number][] {
  const runs: [number, number][] = [];
  if (badblockCount(mem) === 0) return runs;
  const n = mem.layout.config.deviceFrames;
  for (let b = 0; b < n; b++) {
    if (!badblockTest(mem, b)) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === b) last[1]++;
    else runs.push([b, 1]);
  }
  return runs;
}
