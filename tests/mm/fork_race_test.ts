/**
 * fork while sibling threads fault (issue 15): two Workers fault and store
 * into one private anonymous mm, as two threads of a process would, while
 * the main thread forks it again and again with dupMm. Each child must be
 * a snapshot: once dupMm has returned (its TLB shootdown acknowledged by
 * both faulters), no later store of theirs may reach the child's frames,
 * so the child's bytes read the same some milliseconds later. The
 * faulters check they never lose one of their own stores (a COW after the
 * fork keeps it). At the end every frame is back and the invariants hold.
 * In both memmap modes; SEED=N reruns a seed.
 */

import assert from "node:assert/strict";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { dupMm } from "../../src/mm/fork.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { assertInvariants } from "../_invariants.ts";
import { boot, pfnAt } from "./_mm_helpers.ts";
import { startJob } from "./_workers.ts";
import type { FaulterJob } from "./mm_worker.ts";

type FaulterResult = { last: Record<number, number>; faults: number };

const TIDS = [2, 3];
const PAGES = 600; // spans two level-0 tables
const BASE = 0x2030_0000;

/** The child's byte at each faulter's offset of each page (-1: not mapped). */
function snapshot(mem: ReturnType<typeof boot>, mm: MmId): number[] {
  const out: number[] = [];
  for (let p = 0; p < PAGES; p++) {
    const pfn = pfnAt(mem, mm, BASE + p * PAGE_SIZE);
    for (const tid of TIDS) out.push(pfn < 0 ? -1 : mem.u8[pfn * PAGE_SIZE + tid]!);
  }
  return out;
}

const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const memmap of [false, true]) {
  Deno.test(`fork while two sibling Workers fault: each child is a snapshot later stores never reach (device memmap ${memmap})`, async () => {
    const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1e9);
    const mem = boot({ ramFrames: 3072, deviceMemmap: memmap });
    const free0 = freeFrameCount(mem);
    const mm = mmAlloc(mem) as MmId;
    const rw = PROT_READ | PROT_WRITE;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    assert.equal(doMmap(mem, mm, BASE, PAGES * PAGE_SIZE, rw, flags), BASE);
    const startWord = mem.layout.scratch.base;
    Atomics.store(mem.k32, startWord, TIDS.length);
    let finished = 0;
    const jobs = TIDS.map((tid) => {
      const job: FaulterJob = {
        role: "faulter",
        phys: mem.phys,
        kernel: mem.kernel,
        tid,
        mm,
        base: BASE,
        pages: PAGES,
        seed: seed + tid,
        iterations: 60_000,
        startWord,
        tlb: true,
      };
      const r = startJob<FaulterResult>(mem, job, 120_000, seed);
      r.done.finally(() => finished++);
      return r.done;
    });
    const all = Promise.all(jobs);
    all.catch(() => {}); // awaited below; the loop must not leave it unhandled

    let forks = 0, racing = 0;
    while (finished < TIDS.length) {
      const child = dupMm(mem, mm) as MmId;
      assert.ok(child > 0, `dupMm: ${child} (seed ${seed})`);
      const during = finished === 0 && Atomics.load(mem.k32, startWord) === 0;
      const first = snapshot(mem, child);
      await nap(2);
      assert.deepEqual(
        snapshot(mem, child),
        first,
        `fork ${forks}: a later store reached the child (seed ${seed})`,
      );
      mmPut(mem, child);
      forks++;
      if (during) racing++;
    }
    const results = await all;
    assert.ok(racing > 0, `no fork ran while both faulters ran (seed ${seed})`);
    assert.ok(results.every((r) => r.faults > 0));

    // A last fork after they stopped: the child sees exactly their last stores.
    const child = dupMm(mem, mm) as MmId;
    assert.ok(child > 0);
    for (let p = 0; p < PAGES; p++) {
      const pfn = pfnAt(mem, child, BASE + p * PAGE_SIZE);
      for (const [i, tid] of TIDS.entries()) {
        const want = results[i]!.last[p];
        if (want !== undefined) {
          assert.equal(mem.u8[pfn * PAGE_SIZE + tid], want, `page ${p} tid ${tid} (seed ${seed})`);
        }
      }
    }
    assertInvariants(mem, {}, `parent and child live (seed ${seed})`);
    mmPut(mem, child);
    mmPut(mem, mm);
    assert.equal(
      freeFrameCount(mem),
      free0,
      `every frame back after ${forks} forks (seed ${seed})`,
    );
    assertInvariants(mem, {}, `after mmPut (seed ${seed})`);
  });
}
