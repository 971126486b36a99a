/**
 * Worker side of procfs_concurrent_test.ts: a "mutator" thread of a process
 * that maps, touches and unmaps anonymous regions of one mm (seeded) while
 * the main thread reads its smaps and meminfo. It stays in kernel mode
 * throughout, so its munmap shootdowns never wait for itself.
 */

import { ACCESS_WRITE } from "../../src/abi/sv32.ts";
import { asTaskSlot, asVirt, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { handleMmFault } from "../../src/mm/fault.ts";
import { doMmap, doMunmap } from "../../src/mm/mmap.ts";
import { setCurrentTid } from "../../src/sync/mod.ts";
import { rng } from "../mm/_mm_helpers.ts";

export interface MutatorJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  tid: number;
  mm: MmId;
  /** Regions REGION_PAGES pages each, at base + i * REGION_STRIDE. */
  base: number;
  regions: number;
  seed: number;
  /** Most iterations; the mutator stops earlier when the reader sets stopWord. */
  iterations: number;
  /** Scratch words: startWord set to 1 once mutating, stopWord set by the reader, doneWord set at the end. */
  startWord: number;
  stopWord: number;
  doneWord: number;
}

export const REGION_PAGES = 8;
export const REGION_STRIDE = 16 * PAGE_SIZE;

/** The mutator's final state: per region, the pages touched, or null when unmapped. */
export type MutatorResult = { touched: (number[] | null)[] };

function mutate(j: MutatorJob): MutatorResult {
  const mem = attachMemory(j.phys, j.kernel);
  setCurrentTid(asTaskSlot(j.tid));
  const r = rng(j.seed);
  const touched: (Set<number> | null)[] = Array.from({ length: j.regions }, () => null);
  try {
    Atomics.store(mem.k32, j.startWord, 1);
    for (let i = 0; i < j.iterations && Atomics.load(mem.k32, j.stopWord) === 0; i++) {
      const k = Math.floor(r() * j.regions);
      const at = j.base + k * REGION_STRIDE;
      const pages = touched[k] ?? null;
      if (pages === null) {
        const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        const got = doMmap(mem, j.mm, at, REGION_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, flags);
        if (got !== at) throw new Error(`mmap ${got}`);
        touched[k] = new Set();
      } else if (r() < 0.2) {
        if (doMunmap(mem, j.mm, at, REGION_PAGES * PAGE_SIZE) !== 0) throw new Error("munmap");
        touched[k] = null;
      } else {
        const p = Math.floor(r() * REGION_PAGES);
        const res = handleMmFault(mem, j.mm, asVirt(at + p * PAGE_SIZE), ACCESS_WRITE);
        if (res !== 0) throw new Error(`fault ${res}`);
        pages.add(p);
      }
    }
  } finally {
    Atomics.store(mem.k32, j.doneWord, 1);
  }
  return { touched: touched.map((s) => s === null ? null : [...s].sort((a, b) => a - b)) };
}

/** The Worker global, typed without the DOM lib. */
const scope = self as unknown as {
  postMessage(m: unknown): void;
  onmessage: ((e: MessageEvent<MutatorJob>) => void) | null;
};

scope.onmessage = (e: MessageEvent<MutatorJob>) => {
  try {
    scope.postMessage({ ok: true, result: mutate(e.data) });
  } catch (err) {
    scope.postMessage({ ok: false, error: String((err as Error).stack ?? err) });
  }
};
