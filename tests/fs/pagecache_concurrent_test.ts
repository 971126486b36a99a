import assert from "node:assert/strict";
import { asTaskSlot } from "../../src/abi/types.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import {
  DEBUG_LOCKDEP,
  DEBUG_PERTURB,
  setCurrentTid,
  setDebug,
  taskInit,
} from "../../src/sync/mod.ts";
import {
  findGetPage,
  pagecacheFrames,
  shrinkPageCache,
  truncateInodePages,
} from "../../src/fs/pagecache/pagecache.ts";
import { pcacheIndexStats } from "../../src/fs/pagecache/pagecache_index.ts";
import { type Job, prng, type Report, SCR } from "./pagecache_worker.ts";
import { putPage } from "../../src/mm/memmap.ts";
import type { Pfn } from "../../src/abi/types.ts";
import { assertInvariants } from "../_invariants.ts";

const WATCHDOG_MS = 120_000; // catches hangs; generous because 2 loaded cores can starve Workers
const SEED = Number(Deno.env.get("PAGECACHE_SEED") ?? Date.now() % 1_000_000);

function boot(ramFrames: number): Memory {
  const mem = createMemory({ ramFrames, deviceFrames: 4, deviceMemmap: false, maxTasks: 8 });
  setDebug(mem.k32, DEBUG_LOCKDEP | DEBUG_PERTURB, true);
  setCurrentTid(asTaskSlot(1));
  taskInit(mem.k32, asTaskSlot(1));
  return mem;
}

/**
 * Run one job per Worker, release them together, and collect the reports.
 * A watchdog terminates every Worker and fails after WATCHDOG_MS.
 */
async function runWorkers(
  mem: Memory,
  jobs: Omit<Job, "phys" | "kernel">[],
): Promise<Report[]> {
  const url = new URL("./pagecache_worker.ts", import.meta.url).href;
  const workers = jobs.map(() => new Worker(url, { type: "module" }));
  const scr = mem.layout.scratch.base;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const reports = workers.map((w, i) =>
      new Promise<Report>((resolve) => {
        w.onmessage = (e: MessageEvent<Report>) => resolve(e.data);
        w.onerror = (e) => {
          e.preventDefault();
          resolve({ ok: false, error: `worker ${i}: ${e.message}` });
        };
        w.postMessage({ ...jobs[i]!, phys: mem.phys, kernel: mem.kernel });
      })
    );
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`watchdog: workers still running after ${WATCHDOG_MS} ms (seed ${SEED})`),
          ),
        WATCHDOG_MS,
      );
    });
    // Start them together so that they really race.
    const started = (async () => {
      while (Atomics.load(mem.k32, scr + SCR.ready) < jobs.length) {
        await new Promise((r) => setTimeout(r, 5));
      }
      Atomics.store(mem.k32, scr + SCR.go, 1);
      Atomics.notify(mem.k32, scr + SCR.go);
      return Promise.all(reports);
    })();
    return await Promise.race([started, watchdog]);
  } finally {
    clearTimeout(timer);
    for (const w of workers) w.terminate();
  }
}

function fills(mem: Memory, pgoff: number): number {
  return Atomics.load(mem.k32, mem.layout.scratch.base + SCR.fills + pgoff);
}

Deno.test(`readCachePage() in 3 Workers fills each page exactly once (seed ${SEED})`, async () => {
  const mem = boot(256);
  const N = 48;
  const rand = prng(SEED);
  const shuffled = () => {
    const a = Array.from({ length: N }, (_, i) => i);
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  // Two Workers read the same pages in the same order (maximal collision),
  // the third in a shuffled order.
  const same = Array.from({ length: N }, (_, i) => i);
  const jobs = [same, same, shuffled()].map((pgoffs, i) => ({
    tid: 2 + i,
    kind: "fill" as const,
    mapping: 7,
    pgoffs,
    seed: SEED + i,
  }));
  const reports = await runWorkers(mem, jobs);
  for (const r of reports) assert.ok(r.ok, `seed ${SEED}: ${r.error}`);
  const pfnOf = new Map<number, number>();
  reports.forEach((r, w) => {
    assert.equal(r.badBytes, 0, `seed ${SEED}: worker ${w} saw wrong bytes`);
    jobs[w]!.pgoffs.forEach((o, i) => {
      const p = r.pfns![i]!;
      if (pfnOf.has(o)) assert.equal(p, pfnOf.get(o), `seed ${SEED}: pgoff ${o} in two frames`);
      pfnOf.set(o, p);
    });
  });
  for (let o = 0; o < N; o++) assert.equal(fills(mem, o), 1, `seed ${SEED}: pgoff ${o} fills`);
  const majors = reports.reduce((n, r) => n + r.majors!, 0);
  assert.equal(majors, N, "one major fault per page, every other call minor");
  assert.equal(new Set(pfnOf.values()).size, N, "distinct pages in distinct frames");
  assert.equal(pagecacheFrames(mem), N);
  // The Workers cache pages of a made-up mapping (no inode behind it), which
  // the frame-class rule would report; the check runs once the cache is empty.
  assert.equal(shrinkPageCache(mem, Infinity, null), N);
  assertInvariants(mem, {}, `(seed ${SEED})`);
});

Deno.test(`readCachePage() in 2 Workers on disjoint pages fills each once (seed ${SEED})`, async () => {
  const mem = boot(256);
  const jobs = [0, 1].map((w) => ({
    tid: 2 + w,
    kind: "fill" as const,
    mapping: 3,
    pgoffs: Array.from({ length: 40 }, (_, i) => 2 * i + w),
    seed: SEED,
  }));
  const reports = await runWorkers(mem, jobs);
  for (const r of reports) assert.ok(r.ok, `seed ${SEED}: ${r.error}`);
  for (let o = 0; o < 80; o++) assert.equal(fills(mem, o), 1, `pgoff ${o}`);
  assert.equal(pagecacheFrames(mem), 80);
  assert.equal(shrinkPageCache(mem, Infinity, null), 80);
  assert.equal(freeFrameCount(mem), 256);
  assertInvariants(mem, {}, `(seed ${SEED})`);
});

Deno.test(
  `findGetPage() never returns a wrong page while another Worker truncates and refills (seed ${SEED})`,
  async () => {
    // Small RAM and a small index so that frames are reused and the index
    // is rebuilt while the lookups run.
    const RAM = 24;
    const mem = boot(RAM);
    const span = 40;
    const jobs: Omit<Job, "phys" | "kernel">[] = [
      { tid: 2, kind: "truncate", mapping: 5, span, rounds: 1500, seed: SEED },
      { tid: 3, kind: "lookup", mapping: 5, span, seed: SEED + 1 },
      { tid: 4, kind: "lookup", mapping: 5, span, seed: SEED + 2 },
    ];
    // The truncating Worker sets SCR.stop when it is done, which ends the lookups.
    const reports = await runWorkers(mem, jobs);
    const [trunc, ...lookups] = reports;
    assert.ok(trunc!.ok, `seed ${SEED}: ${trunc!.error}`);
    assert.ok(trunc!.dropped! > 0, "truncate dropped pages");
    for (const r of lookups) {
      assert.ok(r.ok, `seed ${SEED}: ${r.error}`);
      assert.deepEqual(r.violations, [], `seed ${SEED}`);
      assert.ok(r.hits! > 0, "lookups found pages");
    }
    // Whatever survived is consistent and can all be dropped.
    for (let o = 0; o < span; o++) {
      const p = findGetPage(mem, 5, o);
      if (p >= 0) putPage(mem, p as Pfn);
    }
    truncateInodePages(mem, 5, 0);
    assert.equal(pagecacheFrames(mem), 0);
    assert.ok(pcacheIndexStats(mem).rebuilds > 0, "the index was rebuilt under the lookups");
    assert.equal(freeFrameCount(mem), RAM, `seed ${SEED}: frames leaked`);
    assertInvariants(mem, {}, `(seed ${SEED})`);
  },
);
