/**
 * The allocator workload of bench/physmem_bench.ts, shared by the main
 * thread and the bench Worker so both run the same loop.
 *
 * @module
 */

import { type Pfn } from "../src/abi/types.ts";
import { type Memory } from "../src/hw/memory.ts";
import { allocFrame, freeFrame } from "../src/mm/frame_alloc.ts";
import { flAlloc, flFree } from "./_freelist.ts";

export type Design = "bitmap" | "freelist";

/** Frames each thread keeps in flight: it frees the oldest as it takes a new one. */
export const RING = 256;

/**
 * `ops` allocate+free pairs through a ring of RING frames, so frames are
 * freed in a different order than they were taken. Exported so the main
 * thread measures exactly the same loop.
 */
export function churn(mem: Memory, design: Design, ops: number): void {
  const alloc = design === "bitmap" ? allocFrame : flAlloc;
  const free = design === "bitmap" ? freeFrame : flFree;
  const ring: Pfn[] = [];
  for (let i = 0; i < RING; i++) ring.push(alloc(mem) as Pfn);
  for (let i = 0; i < ops; i++) {
    const slot = i % RING;
    free(mem, ring[slot]!);
    const pfn = alloc(mem);
    if (pfn < 0) throw new Error(`bench: allocation failed with ${pfn}`);
    ring[slot] = pfn as Pfn;
  }
  for (const pfn of ring) free(mem, pfn);
}
