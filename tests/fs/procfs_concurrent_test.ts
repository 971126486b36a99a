/**
 * procfs read while another Worker changes the mm: every smaps snapshot is
 * self-consistent, meminfo stays within the machine, and once the mutator
 * stops smaps counts exactly the pages it touched.
 */

import assert from "node:assert/strict";
import { asTaskSlot, type MmId, PAGE_SIZE } from "../../src/abi/types.ts";
import { MM, mmBase } from "../../src/abi/layout/mod.ts";
import { mmAlloc, mmPut } from "../../src/mm/mm.ts";
import { taskInit } from "../../src/sync/mod.ts";
import { procEnv, readProc } from "./_procfs_env.ts";
import { assertInvariants } from "../_invariants.ts";
import {
  type MutatorJob,
  type MutatorResult,
  REGION_PAGES,
  REGION_STRIDE,
} from "./procfs_worker.ts";

const BASE = 0x2000_0000;
const REGIONS = 12;
const TIMEOUT_MS = 30_000;
/** smaps + meminfo reads made while the mutator runs. */
const READS = 200;

interface Block {
  start: number;
  end: number;
  kb: Map<string, number>;
}

function parse(text: string): Block[] {
  const out: Block[] = [];
  for (const line of text.split("\n")) {
    const h = /^([0-9a-f]{8})-([0-9a-f]{8}) rw-p 00000000 00:00 0 $/.exec(line);
    if (h) {
      out.push({ start: parseInt(h[1]!, 16), end: parseInt(h[2]!, 16), kb: new Map() });
      continue;
    }
    const m = /^([A-Za-z_]+): +(\d+) kB$/.exec(line);
    if (m) out[out.length - 1]!.kb.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Invariants of one smaps block (kB). */
function checkBlock(b: Block, seed: number): void {
  const k = (n: string) => b.kb.get(n)!;
  const where = `block ${b.start.toString(16)} (seed ${seed})`;
  assert.equal(k("Size"), (b.end - b.start) / 1024, where);
  assert.ok(k("Rss") <= k("Size"), where);
  assert.ok(k("Pss") <= k("Rss"), where);
  assert.equal(
    k("Shared_Clean") + k("Shared_Dirty") + k("Private_Clean") + k("Private_Dirty"),
    k("Rss"),
    where,
  );
  assert.equal(k("Anonymous"), k("Rss"), `anonymous memory only: ${where}`);
}

Deno.test("smaps read while a Worker maps, faults and unmaps is consistent, then exact", async () => {
  const seed = (Date.now() ^ 0x5eed) >>> 0;
  const env = procEnv({ ramFrames: 1024 });
  const mm = mmAlloc(env.mem) as MmId;
  env.info.procs.set(1, { mm });
  const tid = 2;
  taskInit(env.mem.k32, asTaskSlot(tid));
  const [startWord, stopWord, doneWord] = [0, 1, 2].map((i) => env.mem.layout.scratch.base + i);
  for (const w of [startWord!, stopWord!, doneWord!]) Atomics.store(env.mem.k32, w, 0);
  const job: MutatorJob = {
    phys: env.mem.phys,
    kernel: env.mem.kernel,
    tid,
    mm,
    base: BASE,
    regions: REGIONS,
    seed,
    iterations: 1_000_000,
    startWord: startWord!,
    stopWord: stopWord!,
    doneWord: doneWord!,
  };
  const worker = new Worker(new URL("./procfs_worker.ts", import.meta.url).href, {
    type: "module",
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<MutatorResult>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`watchdog: mutator timed out (seed ${seed})`)),
      TIMEOUT_MS,
    );
    worker.onmessage = (
      e: MessageEvent<{ ok: boolean; result?: MutatorResult; error?: string }>,
    ) => {
      if (e.data.ok) resolve(e.data.result!);
      else reject(new Error(`mutator (seed ${seed}): ${e.data.error}`));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`mutator crashed (seed ${seed}): ${e.message}`));
    };
  });
  try {
    worker.postMessage(job);
    const deadline = Date.now() + TIMEOUT_MS;
    while (Atomics.load(env.mem.k32, startWord!) === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
    }
    let reads = 0;
    let overlapped = 0;
    while (reads < READS && Atomics.load(env.mem.k32, doneWord!) === 0 && Date.now() < deadline) {
      for (const b of parse(readProc(env, "/proc/1/smaps", 997) as string)) checkBlock(b, seed);
      const mem = readProc(env, "/proc/meminfo") as string;
      const total = Number(/^MemTotal: +(\d+) kB$/m.exec(mem)![1]);
      const free = Number(/^MemFree: +(\d+) kB$/m.exec(mem)![1]);
      assert.ok(free <= total, `seed ${seed}`);
      reads++;
      if (Atomics.load(env.mem.k32, doneWord!) === 0) overlapped++;
    }
    Atomics.store(env.mem.k32, stopWord!, 1);
    const result = await done;
    assert.ok(
      overlapped >= READS / 2,
      `only ${overlapped} reads overlapped the mutator (seed ${seed})`,
    );
    // Quiet now: smaps counts exactly the touched pages of each mapped region.
    const blocks = parse(readProc(env, "/proc/1/smaps") as string);
    let want = 0;
    for (const pages of result.touched) want += pages?.length ?? 0;
    const rss = blocks.reduce((s, b) => s + b.kb.get("Rss")!, 0);
    assert.equal(rss, want * (PAGE_SIZE / 1024), `seed ${seed}`);
    assert.equal(rss, env.mem.k32[mmBase(env.mem.layout, mm) + MM.rssAnon]! * 4, `seed ${seed}`);
    for (let k = 0; k < REGIONS; k++) {
      const b = blocks.find((x) => x.start === BASE + k * REGION_STRIDE);
      const pages = result.touched[k] ?? null;
      assert.equal(b !== undefined, pages !== null, `region ${k} mapped (seed ${seed})`);
      if (b === undefined || pages === null) continue;
      assert.equal(b.end - b.start, REGION_PAGES * PAGE_SIZE);
      assert.equal(b.kb.get("Rss"), pages.length * 4, `region ${k} (seed ${seed})`);
    }
    assert.equal(blocks.length, result.touched.filter((t) => t !== null).length);
    assertInvariants(env.mem, {}, `with the mutator's mm still live (seed ${seed})`);
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
  mmPut(env.mem, mm);
  assertInvariants(env.mem, {}, `after mmPut (seed ${seed})`);
});
