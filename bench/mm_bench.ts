/**
 * src/mm benchmarks: fault throughput by kind, and TLB shootdown latency
 * with a second Worker busy in user mode on the same mm.
 *
 *   deno bench -A bench/mm_bench.ts
 *
 * Each fault bench times FAULTS faults (setup and teardown excluded with
 * b.start/b.end); faults per second = FAULTS / reported time.
 */

import { TASK_TLB, taskBase } from "../src/abi/layout/mod.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../src/abi/mman.ts";
import { ACCESS_READ, ACCESS_WRITE } from "../src/abi/sv32.ts";
import { asInodeSlot, asVirt, type MmId, PAGE_SIZE, type Pfn } from "../src/abi/types.ts";
import { handleMmFault } from "../src/mm/fault.ts";
import { allocFrame } from "../src/mm/frame_alloc.ts";
import { mmAlloc } from "../src/mm/mm.ts";
import { doMmap, doMunmap } from "../src/mm/mmap.ts";
import { flushTlbMm, TLB_MODE_USER } from "../src/mm/tlb_flush.ts";
import { boot } from "../tests/mm/_mm_helpers.ts";
import { cachePages, OPS_PAGES } from "../tests/mm/_test_vmops.ts";
import { startJob, waitUntil } from "../tests/mm/_workers.ts";
import type { BusyJob } from "../tests/mm/mm_worker.ts";

const FAULTS = 256;
const BASE = 0x2000_0000;
const mem = boot({ ramFrames: 8192, maxTasks: 4, lockdep: false });
const mm = mmAlloc(mem) as MmId;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

function check(r: number, what: string): void {
  if (r !== 0) throw new Error(`${what}: ${r}`);
}

Deno.bench(`anonymous write fault x${FAULTS}`, { group: "fault" }, (b) => {
  doMmap(mem, mm, BASE, FAULTS * PAGE_SIZE, RW, ANON);
  b.start();
  for (let i = 0; i < FAULTS; i++) {
    check(handleMmFault(mem, mm, asVirt(BASE + i * PAGE_SIZE), ACCESS_WRITE), "anon");
  }
  b.end();
  doMunmap(mem, mm, BASE, FAULTS * PAGE_SIZE);
});

Deno.bench(`zero-page read fault x${FAULTS}`, { group: "fault", baseline: true }, (b) => {
  doMmap(mem, mm, BASE, FAULTS * PAGE_SIZE, RW, ANON);
  b.start();
  for (let i = 0; i < FAULTS; i++) {
    check(handleMmFault(mem, mm, asVirt(BASE + i * PAGE_SIZE), ACCESS_READ), "zero");
  }
  b.end();
  doMunmap(mem, mm, BASE, FAULTS * PAGE_SIZE);
});

// A page-cache stand-in file of FAULTS pages for COW.
for (let i = 0; i < FAULTS; i++) cachePages.set(i, allocFrame(mem) as Pfn);
const file = { slot: asInodeSlot(5), ops: OPS_PAGES, readable: true, writable: false };

Deno.bench(`COW write fault (4 KiB copy) x${FAULTS}`, { group: "fault" }, (b) => {
  doMmap(mem, mm, BASE, FAULTS * PAGE_SIZE, RW, MAP_PRIVATE | MAP_FIXED, file, 0);
  for (let i = 0; i < FAULTS; i++) {
    check(handleMmFault(mem, mm, asVirt(BASE + i * PAGE_SIZE), ACCESS_READ), "cow read");
  }
  b.start();
  for (let i = 0; i < FAULTS; i++) {
    check(handleMmFault(mem, mm, asVirt(BASE + i * PAGE_SIZE), ACCESS_WRITE), "cow write");
  }
  b.end();
  doMunmap(mem, mm, BASE, FAULTS * PAGE_SIZE);
});

// flushTlbMm with a second Worker running another mm in user mode, polling
// (its own mm, so the fault benches above are not slowed by shootdowns).
const tlbMm = mmAlloc(mem) as MmId;
const stopWord = mem.layout.scratch.base;
const busyJob: BusyJob = {
  role: "busy",
  phys: mem.phys,
  kernel: mem.kernel,
  tid: 2,
  mm: tlbMm,
  stopWord,
};
let busy: ReturnType<typeof startJob<{ flushes: number }>> | undefined;
const mode = taskBase(mem.layout, 2) + TASK_TLB.mode;
/** Start the busy Worker on first use, so it does not compete with the fault benches. */
function startBusy(): void {
  if (busy !== undefined) return;
  busy = startJob<{ flushes: number }>(mem, busyJob, 600_000, 0);
  busy.done.catch(() => {});
  waitUntil(() => Atomics.load(mem.k32, mode) === TLB_MODE_USER, 20_000, "the busy worker");
}

Deno.bench("flushTlbMm, 1 busy Worker on the mm", { group: "tlb" }, () => {
  startBusy();
  flushTlbMm(mem, tlbMm);
});

const idleMm = mmAlloc(mem) as MmId;
Deno.bench("flushTlbMm, no other task on the mm", { group: "tlb", baseline: true }, () => {
  flushTlbMm(mem, idleMm);
});

globalThis.addEventListener("unload", () => {
  Atomics.store(mem.k32, stopWord, 1);
  busy?.worker.terminate();
});
