/// <reference lib="deno.worker" />
// A Worker for tests/mm/frame_alloc_test.ts: allocates and frees frames at
// random against a shared allocator and checks that no frame it holds was
// also handed to anyone else.
//
// Ownership: owners[pfn] is the id of the worker holding pfn, 0 if none. A
// worker claims it with compareExchange(0 -> id) right after allocFrame, so a
// frame handed out twice shows up as a failed claim. It also stamps its id in
// every byte it checks, so a frame written by two holders shows up as well.

import { ENOMEM } from "../../src/abi/errno.ts";
import { PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { allocFrame, freeFrame } from "../../src/mm/frame_alloc.ts";
import { pageRefcount } from "../../src/mm/memmap.ts";
import { startTogether } from "./start_gate.ts";

export interface AllocJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  owners: SharedArrayBuffer;
  id: number;
  seed: number;
  ops: number;
  maxHeld: number;
  /** Start gate: each Worker adds 1, then waits until `parties` have arrived. */
  gate: SharedArrayBuffer;
  parties: number;
}

export type AllocResult =
  | { ok: true; allocs: number; enomem: number }
  | { ok: false; error: string };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function run(job: AllocJob): AllocResult {
  const mem = attachMemory(job.phys, job.kernel);
  startTogether(job.gate, job.parties);
  const owners = new Int32Array(job.owners);
  const rand = mulberry32(job.seed);
  const held: Pfn[] = [];
  let allocs = 0;
  let enomem = 0;
  const release = (i: number) => {
    const pfn = held[i]!;
    held[i] = held[held.length - 1]!;
    held.pop();
    const at = pfn * PAGE_SIZE;
    if (mem.u8[at] !== job.id || mem.u8[at + PAGE_SIZE - 1] !== job.id) {
      throw new Error(`worker ${job.id}: pfn ${pfn} was written by someone else`);
    }
    if (Atomics.compareExchange(owners, pfn, job.id, 0) !== job.id) {
      throw new Error(`worker ${job.id}: lost ownership of pfn ${pfn}`);
    }
    freeFrame(mem, pfn);
  };
  for (let op = 0; op < job.ops; op++) {
    if (held.length > 0 && (held.length >= job.maxHeld || rand() < 0.5)) {
      release(Math.floor(rand() * held.length));
      continue;
    }
    const zero = rand() < 0.1;
    const pfn = allocFrame(mem, { zero });
    if (pfn === -ENOMEM) {
      enomem++;
      continue;
    }
    if (pfn < 0) throw new Error(`worker ${job.id}: allocFrame returned ${pfn}`);
    const prev = Atomics.compareExchange(owners, pfn, 0, job.id);
    if (prev !== 0) {
      throw new Error(`worker ${job.id}: pfn ${pfn} handed out while ${prev} holds it`);
    }
    if (pageRefcount(mem, pfn as Pfn) !== 1) {
      throw new Error(`worker ${job.id}: pfn ${pfn} refcount ${pageRefcount(mem, pfn as Pfn)}`);
    }
    const at = pfn * PAGE_SIZE;
    if (zero && (mem.u8[at] !== 0 || mem.u8[at + PAGE_SIZE - 1] !== 0)) {
      throw new Error(`worker ${job.id}: zeroed pfn ${pfn} is not zero`);
    }
    mem.u8[at] = job.id;
    mem.u8[at + PAGE_SIZE - 1] = job.id;
    held.push(pfn as Pfn);
    allocs++;
  }
  while (held.length > 0) release(held.length - 1);
  return { ok: true, allocs, enomem };
}

self.onmessage = (e: MessageEvent<AllocJob>) => {
  let result: AllocResult;
  try {
    result = run(e.data);
  } catch (err) {
    result = {
      ok: false,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
  }
  self.postMessage(result);
};
