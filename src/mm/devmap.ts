/**
 * The device frames a run ever mapped (layout/mod.ts devmap region): one bit
 * per device frame, set when a PTE first maps the frame into a process and
 * never cleared, so `device.mapped_frames` (docs/stats.schema.json: "counted over the
 * whole run") also counts frames that were unmapped, truncated away or torn
 * down with their process before anyone looked. Any thread; no lock: the
 * bits only ever go from 0 to 1 (Atomics.or).
 *
 * @module
 */

import type { Pfn } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { pfnIsDevice } from "./memmap.ts";

/**
 * Record that `pfn` is now mapped by a PTE. A RAM frame (or anything not a
 * device frame) is ignored, so callers may pass any frame they install.
 * Entry: any lock state; call it once the PTE is in place.
 */
export function noteDeviceMapped(mem: Memory, pfn: Pfn): void {
  if (!pfnIsDevice(mem, pfn)) return;
  const d = pfn - mem.layout.config.ramFrames;
  Atomics.or(mem.k32, mem.layout.devmap.base + (d >>> 5), 1 << (d & 31));
}

/** Distinct device frames ever mapped since boot. Any thread; no lock. */
export function deviceFramesEverMapped(mem: Memory): number {
  const r = mem.layout.devmap;
  let n = 0;
  for (let w = 0; w < r.words; w++) {
    let v = Atomics.load(mem.k32, r.base + w);
    while (v !== 0) {
      v &= v - 1; // clear the lowest set bit
      n++;
    }
  }
  return n;
}
