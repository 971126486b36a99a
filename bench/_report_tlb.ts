/**
 * TLB shootdown latency with 2 busy harts: two Workers run the same mm in
 * user mode, polling at a bounded interval as the hart does on backward
 * branches (tests/mm/mm_worker.ts "busy"), while the main thread times
 * each flushTlbMm until both have acknowledged. Reports p50 and p99 of the
 * single-flush latencies, plus the same with no other hart on the mm.
 *
 * Uses the mm test harness's Worker (tests/mm/mm_worker.ts), as
 * bench/mm_bench.ts does, whose flushTlbMm bench has 1 busy Worker and
 * reports no median (Deno's JSON has none).
 *
 * @module
 */

import { TASK_TLB, taskBase } from "../src/abi/layout/mod.ts";
import { mmAlloc } from "../src/mm/mm.ts";
import { flushTlbMm, TLB_MODE_USER } from "../src/mm/tlb_flush.ts";
import { boot } from "../tests/mm/_mm_helpers.ts";
import { startJob, waitUntil } from "../tests/mm/_workers.ts";
import type { BusyJob } from "../tests/mm/mm_worker.ts";
import type { TlbResult } from "./_report_types.ts";
import type { MmId } from "../src/abi/types.ts";

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

function timeFlushes(flush: () => void, n: number): number[] {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    flush();
    t.push((performance.now() - t0) * 1000);
  }
  return t.sort((a, b) => a - b);
}

/** p50/p99 of flushTlbMm with 2 Workers busy on the mm. */
export async function measureTlb(quick: boolean): Promise<TlbResult> {
  const n = quick ? 200 : 5000;
  const mem = boot({ ramFrames: 1024, maxTasks: 4, lockdep: false });
  const mm = mmAlloc(mem) as MmId;
  const idleMm = mmAlloc(mem) as MmId;
  const stopWord = mem.layout.scratch.base;
  const job = (tid: number): BusyJob => ({
    role: "busy",
    phys: mem.phys,
    kernel: mem.kernel,
    tid,
    mm,
    stopWord,
  });
  const busy = [2, 3].map((tid) => startJob<{ flushes: number }>(mem, job(tid), 600_000, 0));
  try {
    for (const tid of [2, 3]) {
      const mode = taskBase(mem.layout, tid) + TASK_TLB.mode;
      waitUntil(() => Atomics.load(mem.k32, mode) === TLB_MODE_USER, 20_000, `busy hart ${tid}`);
    }
    timeFlushes(() => flushTlbMm(mem, mm), 50); // warm up
    const busyT = timeFlushes(() => flushTlbMm(mem, mm), n);
    const idleT = timeFlushes(() => flushTlbMm(mem, idleMm), n);
    return {
      status: "ok",
      flushes: n,
      busyHarts: 2,
      p50Us: pct(busyT, 0.5),
      p99Us: pct(busyT, 0.99),
      idleP50Us: pct(idleT, 0.5),
    };
  } finally {
    Atomics.store(mem.k32, stopWord, 1);
    await Promise.allSettled(busy.map((b) => b.done));
  }
}
