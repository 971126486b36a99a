// Physical-machine benchmarks: frame allocator designs (1 thread, 2 Workers),
// directAccess, and the bio path against a raw 4 KiB copy.
//
//   deno bench -A bench/physmem_bench.ts
//
// Allocator iterations run OPS allocate+free pairs (see _churn.ts); divide
// the time per iteration by OPS (1 thread) or 2*OPS (2 Workers) for one pair.

import { type LayoutConfig } from "../src/abi/layout/mod.ts";
import { asBlock, asSector, PAGE_SIZE, type Pfn } from "../src/abi/types.ts";
import { MemDevice } from "../src/hw/device.ts";
import { createMemory, type Memory } from "../src/hw/memory.ts";
import { allocFrame, freeFrame } from "../src/mm/frame_alloc.ts";
import { churn, type Design } from "./_churn.ts";
import { flAlloc, flFree, flInit } from "./_freelist.ts";
import type { BenchJob } from "./physmem_worker.ts";

const FRAMES = 16384;
const OPS = 10_000;
const CFG: LayoutConfig = {
  ramFrames: FRAMES,
  deviceFrames: 4096,
  deviceMemmap: false,
  maxTasks: 4,
};

/** Deterministic shuffle so runs are comparable. */
function shuffle<T>(a: T[], seed = 12345): T[] {
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * A machine whose allocator (of `design`) has `usedPct`% of RAM in use,
 * scattered, as after a long run.
 */
function machine(design: Design, usedPct: number): Memory {
  const mem = createMemory(CFG);
  if (design === "freelist") flInit(mem);
  const alloc = design === "bitmap" ? allocFrame : flAlloc;
  const free = design === "bitmap" ? freeFrame : flFree;
  const all: Pfn[] = [];
  for (let i = 0; i < FRAMES; i++) all.push(alloc(mem) as Pfn);
  const keep = Math.floor((FRAMES * usedPct) / 100);
  for (const pfn of shuffle(all).slice(keep)) free(mem, pfn);
  return mem;
}

for (const usedPct of [0, 90]) {
  for (const design of ["bitmap", "freelist"] as const) {
    const mem = machine(design, usedPct);
    Deno.bench({
      name: `${design}: ${OPS} alloc+free pairs, 1 thread, ${usedPct}% used`,
      group: `falloc 1 thread ${usedPct}%`,
      baseline: design === "bitmap",
      fn: () => churn(mem, design, OPS),
    });
  }
}

const workers = [0, 1, 2, 3].map(() =>
  new Worker(new URL("./physmem_worker.ts", import.meta.url).href, { type: "module" })
);
globalThis.addEventListener("unload", () => workers.forEach((w) => w.terminate()));

function runOn(w: Worker, job: BenchJob): Promise<void> {
  return new Promise((resolve) => {
    w.onmessage = () => resolve();
    w.postMessage(job);
  });
}

// 2 Workers on 2 cores, then 4 on 2 cores: oversubscribed, as `xip run --procs 8`
// is, so a lock holder can be preempted while the others spin.
for (const nWorkers of [2, 4]) {
  for (const usedPct of [0, 90]) {
    for (const design of ["bitmap", "freelist"] as const) {
      const mem = machine(design, usedPct);
      const job: BenchJob = { phys: mem.phys, kernel: mem.kernel, design, ops: OPS };
      Deno.bench({
        name: `${design}: ${nWorkers} Workers x ${OPS} alloc+free pairs, ${usedPct}% used`,
        group: `falloc ${nWorkers} workers ${usedPct}%`,
        baseline: design === "bitmap",
        fn: async () => {
          await Promise.all(workers.slice(0, nWorkers).map((w) => runOn(w, job)));
        },
      });
    }
  }
}

const devMem = createMemory(CFG);
const dev = new MemDevice(devMem);
const sectors = shuffle(Array.from({ length: 1024 }, (_, i) => asSector(i * 8 * 4)));

Deno.bench({
  name: "directAccess(): 1024 calls, one page each",
  group: "directAccess",
  fn: () => {
    let sum = 0;
    for (const s of sectors) {
      const r = dev.directAccess(s, PAGE_SIZE);
      if (typeof r !== "number") sum += r.pfn;
    }
    if (sum === 0) throw new Error("unreachable: keeps the loop alive");
  },
});

const dst = new Uint8Array(PAGE_SIZE);
const blocks = shuffle(Array.from({ length: 1024 }, (_, i) => asBlock(i * 4)));
const views = blocks.map((b) => dev.bytes.subarray(b * PAGE_SIZE, (b + 1) * PAGE_SIZE));

Deno.bench({
  name: "bioRead(): 1024 x 4 KiB",
  group: "4 KiB copy",
  baseline: true,
  fn: () => {
    for (const b of blocks) dev.bioRead(b, dst);
  },
});

Deno.bench({
  name: "raw dst.set(bytes.subarray(...)): 1024 x 4 KiB",
  group: "4 KiB copy",
  fn: () => {
    for (const b of blocks) dst.set(dev.bytes.subarray(b * PAGE_SIZE, (b + 1) * PAGE_SIZE));
  },
});

Deno.bench({
  name: "raw dst.set(prebuilt view): 1024 x 4 KiB",
  group: "4 KiB copy",
  fn: () => {
    for (const v of views) dst.set(v);
  },
});

Deno.bench({
  name: "frame zeroing: u8.fill(0) of 1024 x 4 KiB",
  group: "4 KiB copy",
  fn: () => {
    for (const b of blocks) {
      devMem.u8.fill(0, (CFG.ramFrames + b) * PAGE_SIZE, (CFG.ramFrames + b + 1) * PAGE_SIZE);
    }
  },
});

const zeroPage = new Uint8Array(PAGE_SIZE);
Deno.bench({
  name: "frame zeroing: u8.set(zero page) of 1024 x 4 KiB (what allocFrame does)",
  group: "4 KiB copy",
  fn: () => {
    for (const b of blocks) devMem.u8.set(zeroPage, (CFG.ramFrames + b) * PAGE_SIZE);
  },
});
