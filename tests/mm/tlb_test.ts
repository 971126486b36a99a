import assert from "node:assert/strict";
import { assertInvariants } from "../_invariants.ts";
import { MM, mmBase, TASK_TLB, taskBase } from "../../src/abi/layout/mod.ts";
import { pfnToPte, PTE_A, PTE_R, PTE_SPECIAL, PTE_U, PTE_V, pteToPfn } from "../../src/abi/sv32.ts";
import { asPte, asTaskSlot, asVirt, type MmId, PAGE_SIZE, type Pfn } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { allocFrame, freeFrame } from "../../src/mm/frame_alloc.ts";
import { mmAlloc, mmPut, ptlLock, ptlUnlock } from "../../src/mm/mm.ts";
import { physWords, walk } from "../../src/mm/pgtable.ts";
import {
  enterIdle,
  enterKernel,
  enterUser,
  flushTlbMm,
  switchMm,
  TLB_MODE_USER,
  tlbAck,
  tlbCurrentGen,
  tlbPoll,
} from "../../src/mm/tlb_flush.ts";
import { boot } from "./_mm_helpers.ts";
import { startJob, waitUntil } from "./_workers.ts";
import { type HartJob, POISON } from "./mm_worker.ts";

Deno.test("enterUser() flushes only when the mm's generation moved", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  let flushes = 0;
  switchMm(mem, asTaskSlot(1), mm);
  enterUser(mem, asTaskSlot(1), () => flushes++);
  assert.equal(flushes, 0);
  enterKernel(mem, asTaskSlot(1));
  // A task in kernel mode is not waited for...
  const gen = flushTlbMm(mem, mm);
  assert.equal(tlbPoll(mem, asTaskSlot(1)), true);
  // ...and flushes on its way back to user mode.
  enterUser(mem, asTaskSlot(1), () => flushes++);
  assert.equal(flushes, 1);
  assert.equal(tlbPoll(mem, asTaskSlot(1)), false);
  assert.equal(mem.k32[taskBase(mem.layout, 1) + TASK_TLB.gen], gen);
  enterUser(mem, asTaskSlot(1), () => flushes++);
  assert.equal(flushes, 1);
  enterIdle(mem, asTaskSlot(1));
  mmPut(mem, mm);
});

Deno.test("tlbPoll()/tlbAck() compare generations across wrap-around", () => {
  const mem = boot();
  const mm = mmAlloc(mem) as MmId;
  switchMm(mem, asTaskSlot(1), mm);
  mem.k32[mmBase(mem.layout, mm) + MM.tlbGen] = 0x7fff_ffff;
  tlbAck(mem, asTaskSlot(1), 0x7fff_ffff);
  assert.equal(tlbPoll(mem, asTaskSlot(1)), false);
  enterKernel(mem, asTaskSlot(1));
  flushTlbMm(mem, mm); // wraps to -2^31
  assert.equal(tlbPoll(mem, asTaskSlot(1)), true);
  tlbAck(mem, asTaskSlot(1), tlbCurrentGen(mem, asTaskSlot(1)));
  assert.equal(tlbPoll(mem, asTaskSlot(1)), false);
  enterIdle(mem, asTaskSlot(1));
  mmPut(mem, mm);
});

/**
 * Swap the PTE of one page among a pool of frames `rounds` times; after
 * each swap, `flush`, then poison the old frame. Returns the Worker's counts.
 */
async function shootdownRace(
  mem: Memory,
  seed: number,
  rounds: number,
  pollMax: number,
  flush: (mm: MmId) => void,
  untilBad = false,
) {
  const mm = mmAlloc(mem) as MmId;
  const va = 0x2000_0000;
  const p32 = physWords(mem);
  const ptw = walk(mem, mm, asVirt(va), true);
  const pool: Pfn[] = [];
  for (let i = 0; i < 8; i++) pool.push(allocFrame(mem) as Pfn);
  const map = (pfn: Pfn) => pfnToPte(pfn, PTE_V | PTE_R | PTE_U | PTE_A | PTE_SPECIAL) | 0;
  Atomics.store(p32, pool[0]! * (PAGE_SIZE / 4), 1);
  Atomics.store(p32, ptw, map(pool[0]!));
  const stopWord = mem.layout.scratch.base;
  const badWord = stopWord + 1;
  const job: HartJob = {
    role: "hart",
    phys: mem.phys,
    kernel: mem.kernel,
    tid: 2,
    mm,
    va,
    seed,
    pollMax,
    stopWord,
    badWord,
  };
  const hart = startJob<{ reads: number; flushes: number; bad: number }>(mem, job, 60_000, seed);
  const mode = taskBase(mem.layout, 2) + TASK_TLB.mode;
  try {
    waitUntil(() => Atomics.load(mem.k32, mode) === TLB_MODE_USER, 20_000, "the hart to start");
    const deadline = performance.now() + 20_000;
    for (let r = 1; r <= rounds; r++) {
      if (untilBad && (Atomics.load(mem.k32, badWord) > 0 || performance.now() > deadline)) break;
      const next = pool[r % pool.length]!;
      Atomics.store(p32, next * (PAGE_SIZE / 4), r + 1);
      ptlLock(mem, mm);
      const old = pteToPfn(asPte(Atomics.exchange(p32, ptw, map(next))));
      ptlUnlock(mem, mm);
      flush(mm);
      Atomics.store(p32, old * (PAGE_SIZE / 4), POISON);
    }
  } finally {
    Atomics.store(mem.k32, stopWord, 1);
  }
  const res = await hart.done;
  Atomics.store(p32, ptw, 0);
  for (const p of pool) freeFrame(mem, p);
  mmPut(mem, mm);
  // Only now: the pool frames were mapped raw (no anon or file class) while the race ran.
  assertInvariants(mem, {}, `(seed ${seed})`);
  return res;
}

Deno.test("flushTlbMm() leaves no stale translation in another Worker's TLB once it returns", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1e9);
  const mem = boot();
  const res = await shootdownRace(mem, seed, 20_000, 64, (mm) => flushTlbMm(mem, mm));
  assert.equal(res.bad, 0, `stale reads after flushTlbMm returned (seed ${seed})`);
  assert.ok(res.reads > 0, `the hart never read (seed ${seed})`);
  assert.ok(res.flushes > 0, `the hart never flushed (seed ${seed})`);
});

Deno.test("the shootdown oracle catches a flush that does not wait (control)", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1e9);
  const mem = boot();
  // Runs until the first stale read is seen (or 20 s pass), so a loaded machine only slows it.
  const res = await shootdownRace(mem, seed, 10_000_000, 4000, (mm) => {
    // Broken on purpose: bump the generation but do not wait for acks.
    Atomics.add(mem.k32, mmBase(mem.layout, mm) + MM.tlbGen, 1);
  }, true);
  assert.ok(res.bad > 0, `the oracle saw no stale read of a broken flush (seed ${seed})`);
});
