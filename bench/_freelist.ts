/**
 * The design the frame allocator was measured against, for bench/ only: a
 * LIFO free list threaded through the memmap's `next` words, guarded by one
 * spinlock, as Linux's zone->lock guards free_area. Its lock and head live in
 * the kernel tables' scratch region, which the layout leaves to benchmarks.
 * It does the same memmap work as src/mm/frame_alloc.ts (refcount 1 on
 * allocation, fields cleared and a double-free check on free) so the two
 * compare fairly.
 *
 * @module
 */

import { ENOMEM } from "../src/abi/errno.ts";
import { PAGE } from "../src/abi/layout/mod.ts";
import { KernelPanic } from "../src/abi/panic.ts";
import { asPfn, type Pfn } from "../src/abi/types.ts";
import { type Memory } from "../src/hw/memory.ts";
import { ramPageBase } from "../src/mm/memmap.ts";

/** Scratch words: the lock, the list head, the free count. */
const LOCK = 0;
const HEAD = 16; // its own cache line
const COUNT = 17;
/** Marks a frame on the free list (Linux's PageBuddy), in the private word. */
const ON_LIST = 0x4652_4545;

function lock(k32: Int32Array, w: number): void {
  while (Atomics.compareExchange(k32, w, 0, 1) !== 0) {
    // Spin: the critical section is a handful of loads and stores.
  }
}

function unlock(k32: Int32Array, w: number): void {
  Atomics.store(k32, w, 0);
}

/** Build the list over every RAM frame. Call once, before any allocation. */
export function flInit(mem: Memory): void {
  const s = mem.layout.scratch.base;
  const n = mem.layout.config.ramFrames;
  for (let p = 0; p < n; p++) {
    const b = ramPageBase(mem, asPfn(p));
    mem.k32[b + PAGE.next] = p + 1 < n ? p + 1 : -1;
    mem.k32[b + PAGE.private] = ON_LIST;
  }
  mem.k32[s + HEAD] = n > 0 ? 0 : -1;
  mem.k32[s + COUNT] = n;
}

export function flAlloc(mem: Memory): Pfn | number {
  const { k32 } = mem;
  const s = mem.layout.scratch.base;
  lock(k32, s + LOCK);
  const head = k32[s + HEAD]!;
  if (head < 0) {
    unlock(k32, s + LOCK);
    return -ENOMEM;
  }
  const b = ramPageBase(mem, asPfn(head));
  k32[s + HEAD] = k32[b + PAGE.next]!;
  k32[s + COUNT]!--;
  unlock(k32, s + LOCK);
  k32[b + PAGE.next] = -1;
  k32[b + PAGE.private] = 0;
  k32[b + PAGE.refcount] = 1;
  return asPfn(head);
}

export function flFree(mem: Memory, pfn: Pfn): void {
  const { k32 } = mem;
  const s = mem.layout.scratch.base;
  const b = ramPageBase(mem, pfn);
  if (k32[b + PAGE.private] === ON_LIST) throw new KernelPanic("flFree", `double free ${pfn}`);
  k32[b + PAGE.flags] = 0;
  k32[b + PAGE.refcount] = 0;
  k32[b + PAGE.mapping] = 0;
  k32[b + PAGE.index] = 0;
  k32[b + PAGE.private] = ON_LIST;
  lock(k32, s + LOCK);
  k32[b + PAGE.next] = k32[s + HEAD]!;
  k32[s + HEAD] = pfn;
  k32[s + COUNT]!++;
  unlock(k32, s + LOCK);
}
