// The measurement behind src/mm/frame_alloc.ts's design: the lock-free
// bitmap against a spinlocked free list (bench/_freelist.ts), in rounds that
// interleave the designs so a busy machine slows both alike. Prints ns per
// allocate+free pair, best and median of ROUNDS.
//
//   deno run -A bench/falloc_compare.ts [rounds]
//
// `deno bench` (physmem_bench.ts) reports the same workloads one by one; on a
// shared 2-core machine its averages swing with the load, hence this script.

import { type LayoutConfig } from "../src/abi/layout/mod.ts";
import { type Pfn } from "../src/abi/types.ts";
import { createMemory, type Memory } from "../src/hw/memory.ts";
import { allocFrame, freeFrame } from "../src/mm/frame_alloc.ts";
import { churn, type Design } from "./_churn.ts";
import { flAlloc, flFree, flInit } from "./_freelist.ts";
import type { BenchJob } from "./physmem_worker.ts";

const FRAMES = 16384;
const OPS = 50_000;
const ROUNDS = Number(Deno.args[0] ?? 9);
const CFG: LayoutConfig = { ramFrames: FRAMES, deviceFrames: 1, deviceMemmap: false, maxTasks: 8 };
const DESIGNS: Design[] = ["bitmap", "freelist"];

function machine(design: Design, usedPct: number): Memory {
  const mem = createMemory(CFG);
  if (design === "freelist") flInit(mem);
  const alloc = design === "bitmap" ? allocFrame : flAlloc;
  const free = design === "bitmap" ? freeFrame : flFree;
  const all: Pfn[] = [];
  for (let i = 0; i < FRAMES; i++) all.push(alloc(mem) as Pfn);
  // Free every frame whose hash falls above usedPct: scattered holes.
  for (const pfn of all) if ((Math.imul(pfn, 2654435761) >>> 0) % 100 >= usedPct) free(mem, pfn);
  return mem;
}

const workers = [0, 1, 2, 3].map(() =>
  new Worker(new URL("./physmem_worker.ts", import.meta.url).href, { type: "module" })
);

function runOn(w: Worker, job: BenchJob): Promise<void> {
  return new Promise((resolve) => {
    w.onmessage = () => resolve();
    w.postMessage(job);
  });
}

/** ns per pair for one round. threads 0 means the main thread alone. */
async function round(mem: Memory, design: Design, threads: number): Promise<number> {
  const t = performance.now();
  if (threads === 0) {
    churn(mem, design, OPS);
    return ((performance.now() - t) * 1e6) / OPS;
  }
  const job: BenchJob = { phys: mem.phys, kernel: mem.kernel, design, ops: OPS };
  await Promise.all(workers.slice(0, threads).map((w) => runOn(w, job)));
  return ((performance.now() - t) * 1e6) / (OPS * threads);
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

try {
  console.log(`frames ${FRAMES}, ${OPS} pairs per thread per round, ${ROUNDS} rounds`);
  console.log("threads  used  design     best ns/pair  median ns/pair");
  for (const threads of [0, 2, 4]) {
    for (const usedPct of [0, 90]) {
      const mems = new Map(DESIGNS.map((d) => [d, machine(d, usedPct)]));
      const times = new Map<Design, number[]>(DESIGNS.map((d) => [d, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const d of DESIGNS) times.get(d)!.push(await round(mems.get(d)!, d, threads));
      }
      for (const d of DESIGNS) {
        const t = times.get(d)!;
        const who = threads === 0 ? "main" : `${threads} W`;
        console.log(
          `${who.padEnd(8)} ${String(usedPct).padStart(3)}%  ${d.padEnd(9)}  ${
            Math.min(...t).toFixed(0).padStart(12)
          }  ${median(t).toFixed(0).padStart(14)}`,
        );
      }
    }
  }
} finally {
  for (const w of workers) w.terminate();
}
