import assert from "node:assert/strict";
import { MM, VMSTAT } from "../../src/abi/layout/mod.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "../../src/abi/mman.ts";
import { PTE_SPECIAL, PTE_W } from "../../src/abi/sv32.ts";
import { asPfn, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { statRead } from "../../src/hw/memory.ts";
import { freeFrameCount } from "../../src/mm/frame_alloc.ts";
import { pageMapcount, pageRefcount } from "../../src/mm/memmap.ts";
import { mmAlloc, mmField, mmGauges, mmPut, zeroPfn } from "../../src/mm/mm.ts";
import { doMmap } from "../../src/mm/mmap.ts";
import { boot, pfnAt, pteAt } from "./_mm_helpers.ts";
import { startJob } from "./_workers.ts";
import type { FaulterJob } from "./mm_worker.ts";
import { assertInvariants } from "../_invariants.ts";

type FaulterResult = { last: Record<number, number>; faults: number };

Deno.test("two Workers faulting one mm concurrently end with consistent PTEs and exact counts", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1e9);
  const mem = boot({ ramFrames: 2048 });
  const free0 = freeFrameCount(mem);
  const mm = mmAlloc(mem) as MmId;
  const pages = 600; // spans two level-0 tables
  const base = 0x2030_0000;
  assert.equal(
    doMmap(
      mem,
      mm,
      base,
      pages * PAGE_SIZE,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
    ),
    base,
  );
  const startWord = mem.layout.scratch.base;
  Atomics.store(mem.k32, startWord, 2);
  const jobs = [2, 3].map((tid) => {
    const job: FaulterJob = {
      role: "faulter",
      phys: mem.phys,
      kernel: mem.kernel,
      tid,
      mm,
      base,
      pages,
      seed: seed + tid,
      iterations: 20_000,
      startWord,
    };
    return startJob<FaulterResult>(mem, job, 60_000, seed);
  });
  const results = await Promise.all(jobs.map((j) => j.done));

  let anon = 0;
  let zero = 0;
  for (let p = 0; p < pages; p++) {
    const va = base + p * PAGE_SIZE;
    const pte = pteAt(mem, mm, va);
    const pfn = pfnAt(mem, mm, va);
    const writers = [2, 3].filter((_, i) => results[i]!.last[p] !== undefined);
    if (pfn === -1) {
      assert.equal(writers.length, 0, `page ${p} was written but is unmapped (seed ${seed})`);
      continue;
    }
    if (pfn === zeroPfn(mem)) {
      assert.equal(
        writers.length,
        0,
        `page ${p} was written but maps the zero page (seed ${seed})`,
      );
      assert.ok((pte & PTE_SPECIAL) !== 0 && (pte & PTE_W) === 0);
      zero++;
      continue;
    }
    anon++;
    assert.ok((pte & PTE_W) !== 0);
    assert.equal(pageRefcount(mem, asPfn(pfn)), 1, `page ${p} refcount (seed ${seed})`);
    assert.equal(pageMapcount(mem, asPfn(pfn)), 1, `page ${p} mapcount (seed ${seed})`);
    for (const [i, tid] of [2, 3].entries()) {
      const want = results[i]!.last[p];
      if (want !== undefined) {
        assert.equal(
          mem.u8[pfn * PAGE_SIZE + tid],
          want,
          `page ${p} lost tid ${tid}'s store (seed ${seed})`,
        );
      }
    }
  }
  assert.ok(anon > 0 && results.every((r) => r.faults > 0));
  assert.equal(mmField(mem, mm, MM.rssAnon), anon, `rss (seed ${seed})`);
  assert.equal(mmGauges(mem).anonFrames, anon);
  assert.equal(statRead(mem, VMSTAT.faultAnon), anon, `each anon page counted once (seed ${seed})`);
  assert.ok(statRead(mem, VMSTAT.faultZero) >= zero);
  assert.equal(statRead(mem, VMSTAT.faultCow), 0);
  const tables = mmField(mem, mm, MM.ptFrames);
  assert.equal(tables, 3, "root + two level-0 tables, none leaked by a lost race");
  assert.equal(freeFrameCount(mem), free0 - anon - tables);
  assertInvariants(mem, {}, `with the mm live (seed ${seed})`);
  mmPut(mem, mm);
  assert.equal(freeFrameCount(mem), free0);
  assertInvariants(mem, {}, `after mmPut (seed ${seed})`);
});
